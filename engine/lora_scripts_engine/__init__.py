"""lora-scripts engine: the only code of the project that imports torch."""

ENGINE_VERSION = "0.1.0"

"""Benchmark-only stand-in for torchvision (no torchvision wheel loads beside the CPU torch here). It holds only the
transforms the compared training scripts use on their data path; data transforms are not what the benchmark measures.
Put on PYTHONPATH only for the comparison runs (diffusers', kohya's), never for the product."""

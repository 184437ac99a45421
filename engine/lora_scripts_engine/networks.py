"""Network types: which peft adapter a `network_type` trains, and how its saved file is read back.

peft implements every type (LoRA/LoCon, DoRA, LoHa, LoKr); this module only picks the config and fixes the few
choices that decide whether the file can be written in the LyCORIS layout WebUI and ComfyUI load
(docs/formats/lycoris.md):

- LoHa and LoKr keep convolutions flat (`use_effective_conv2d=False`): their factors then have exactly the shapes
  LyCORIS writes for a non-Tucker module (`hada_w1_b` is [r, in·k·k]), so conversion only renames keys.
- LoKr's first factor is never decomposed (`decompose_both=False`, LyCORIS' default) and `lokr_factor` is peft's
  `decompose_factor` (LyCORIS' `factor`, -1 = as square as possible).
- peft's LoHa/LoKr have no input dropout; `dropout` becomes `rank_dropout`, their nearest regulariser.
"""

from __future__ import annotations

import json

import torch
from peft import LoHaConfig, LoKrConfig, LoraConfig, PeftConfig
from peft.tuners.lora import LoraLayer
from peft.tuners.lycoris_utils import LycorisLayer
from peft.utils import set_peft_model_state_dict
from safetensors import safe_open

NETWORK_TYPES = ("lora", "locon", "dora", "loha", "lokr")
# peft's `peft_type`, as stored in the file's `lora_adapter_metadata` → its config class.
CONFIG_TYPES = {"LORA": LoraConfig, "LOHA": LoHaConfig, "LOKR": LoKrConfig}


def adapter_config(
    network: str,
    rank: int,
    alpha: float,
    dropout: float,
    target_modules: list[str],
    *,
    lokr_factor: int = -1,
    **options,
) -> PeftConfig:
    """The peft config that trains `network` on `target_modules` with scale alpha / rank.

    `options` go to the config as they are (e.g. `init_weights` for tests); unknown network types raise ValueError.
    """
    if network in ("lora", "locon", "dora"):
        # `locon` is our LoRA on convolutions too: the target modules decide, as in kohya's LoCon.
        return LoraConfig(
            r=rank,
            lora_alpha=alpha,
            lora_dropout=dropout,
            target_modules=target_modules,
            init_lora_weights=options.pop("init_lora_weights", "gaussian"),
            use_dora=network == "dora",
            **options,
        )
    if network == "loha":
        return LoHaConfig(
            r=rank,
            alpha=alpha,
            rank_dropout=dropout,
            target_modules=target_modules,
            use_effective_conv2d=False,
            **options,
        )
    if network == "lokr":
        return LoKrConfig(
            r=rank,
            alpha=alpha,
            rank_dropout=dropout,
            target_modules=target_modules,
            use_effective_conv2d=False,
            decompose_both=False,
            decompose_factor=lokr_factor,
            **options,
        )
    raise ValueError(f"unknown network type {network!r}; expected one of {', '.join(NETWORK_TYPES)}")


def network_type(config: PeftConfig) -> str:
    """The network type a peft config trains: what adapter_config was called with (`locon` reads as `lora`)."""
    if isinstance(config, LoraConfig):
        return "dora" if config.use_dora else "lora"
    if isinstance(config, LoHaConfig):
        return "loha"
    if isinstance(config, LoKrConfig):
        return "lokr"
    raise ValueError(f"{type(config).__name__} is not a network type lora-scripts trains")


def saved_config(file_metadata: dict[str, str], component: str) -> PeftConfig | None:
    """The peft config `lora_files.save_lora` stored for `component` ("unet", "text_encoder", …), or None.

    diffusers flattens each component's `to_dict()` into `lora_adapter_metadata` as `"<component>.<field>"`; peft's
    own `from_peft_type` picks LoraConfig, LoHaConfig or LoKrConfig from `peft_type`.
    """
    raw = file_metadata.get("lora_adapter_metadata")
    if not raw:
        return None
    prefix = component + "."
    fields = {key[len(prefix) :]: value for key, value in json.loads(raw).items() if key.startswith(prefix)}
    if not fields:
        return None
    peft_type = str(fields.get("peft_type", "LORA")).upper()
    if peft_type not in CONFIG_TYPES:
        raise ValueError(f"{component} adapter is {peft_type}, not LoRA, LoHa or LoKr")
    fields.pop("peft_version", None)  # written by peft on save, not a config field
    return CONFIG_TYPES[peft_type](**{k: v for k, v in fields.items() if k != "peft_type"})


def component_state(tensors: dict[str, torch.Tensor], component: str, model: torch.nn.Module) -> dict:
    """One component's adapter weights from a saved file, named as `model`'s modules are (peft's state-dict names).

    save_lora writes text encoders with the `text_model.` wrapper; transformers >= 5 models have none.
    """
    prefix = component + "."
    state = {key[len(prefix) :]: value for key, value in tensors.items() if key.startswith(prefix)}
    has_wrapper = any(name.startswith("text_model.") for name, _ in model.named_modules())
    if component.startswith("text_encoder") and not has_wrapper:
        state = {key.removeprefix("text_model."): value for key, value in state.items()}
    return state


def load_adapter(model: torch.nn.Module, state: dict[str, torch.Tensor], config: PeftConfig) -> None:
    """Injects `config` into `model` and loads the saved weights through peft's own loader; refuses a misfit."""
    model.add_adapter(config)
    check_loaded(set_peft_model_state_dict(model, state), "adapter")


def base_layers_read_by_adapters(model: torch.nn.Module) -> set[torch.nn.Module]:
    """Frozen layers whose weight an adapter reads at every step: LoHa and LoKr its shape, DoRA its values (the norm).

    packed_linear.py and packed_conv.py release a packed layer's plain weight, so these must stay unpacked.
    """
    return {
        module.get_base_layer()
        for module in model.modules()
        if isinstance(module, LycorisLayer) or (isinstance(module, LoraLayer) and any(module.use_dora.values()))
    }


def load_saved_file(base, path: str, adapter_name: str = "default") -> list[str]:
    """Loads a LoRA/LoHa/LoKr/DoRA file that save_lora wrote into `base` through peft's own loader.

    diffusers' `load_lora_weights` refuses LoHa and LoKr and drops a text encoder's DoRA magnitudes
    (docs/formats/lycoris.md §5); this reads the same file with the config saved in it. Returns the components loaded.
    """
    with safe_open(path, "pt") as file:
        metadata = file.metadata() or {}
        tensors = {key: file.get_tensor(key) for key in file.keys()}
    models = {"unet": base.unet, **dict(zip(("text_encoder", "text_encoder_2"), base.text_encoders))}
    loaded = []
    for component, model in models.items():
        config = saved_config(metadata, component)
        state = component_state(tensors, component, model)
        if config is None or not state:
            continue
        model.add_adapter(config, adapter_name=adapter_name)
        check_loaded(set_peft_model_state_dict(model, state, adapter_name=adapter_name), path, adapter_name)
        loaded.append(component)
    return loaded


def check_loaded(result, what: str, adapter_name: str = "default") -> None:
    """set_peft_model_state_dict loads non-strictly: every adapter weight the model has must have come from the file."""
    adapter_keys = {key for key in result.missing_keys if f".{adapter_name}" in key}
    if result.unexpected_keys or adapter_keys:
        raise ValueError(
            f"{what}: adapter weights do not fit: unexpected {result.unexpected_keys[:3]}, "
            f"missing {sorted(adapter_keys)[:3]}"
        )

"""Matches the `target_modules` entries (already expanded to suffixes by TypeScript) against the real model."""

from __future__ import annotations

from torch import nn

from .protocol import EngineFailure
from .request import TargetEntry

# Layer types peft's LoRA can wrap and that carry a picture's style.
ADAPTABLE = (nn.Linear, nn.Conv2d)


def match_modules(model: nn.Module, suffixes: list[str]) -> list[str]:
    """Names of adaptable modules whose dotted name ends with one of the suffixes (whole name parts only)."""
    matched = []
    for name, module in model.named_modules():
        if isinstance(module, ADAPTABLE) and any(name == s or name.endswith("." + s) for s in suffixes):
            matched.append(name)
    return matched


def resolve_targets(
    targets: list[TargetEntry], unet: nn.Module, text_encoders: list[nn.Module], encoder_lrs: list[float] | None
):
    """→ (unet module names, [names per text encoder], per-entry counts). Fails on an entry that matches nothing.

    `encoder_lrs`: each text encoder's learning rate, None with `train_text_encoder` off. An encoder at 0 is frozen:
    it gets no names, and the counts are of the trained layers only.
    """
    trains_encoder = [bool(lr) for lr in encoder_lrs] if encoder_lrs else [False] * len(text_encoders)
    unet_names: set[str] = set()
    te_names: list[set[str]] = [set() for _ in text_encoders]
    counts = []
    for index, entry in enumerate(targets):
        in_unet = match_modules(unet, entry.unet)
        in_te = [
            match_modules(te, entry.text_encoder) if trains else [] for te, trains in zip(text_encoders, trains_encoder)
        ]
        unet_names.update(in_unet)
        for names, found in zip(te_names, in_te):
            names.update(found)
        te_count = sum(len(found) for found in in_te)
        counts.append({"name": entry.name, "unet": len(in_unet), "text_encoder": te_count})
        if not in_unet and te_count == 0:
            raise EngineFailure(
                "target_module_missing",
                no_match_message(entry, text_encoders, trains_encoder, encoder_lrs is not None),
                culprit=f"target_modules[{index}]",
                hint="use a preset such as `attention` or `attention+ff`, or layer names such as `to_q`, `q_proj`, `ff.net.2`",
            )
    return sorted(unet_names), [sorted(n) for n in te_names], counts


def no_match_message(
    entry: TargetEntry, text_encoders: list[nn.Module], trains_encoder: list[bool], train_text_encoder: bool
) -> str:
    """Why an entry matched nothing: its layers are only in text encoders that are not trained, or nowhere."""
    frozen = [te for te, trains in zip(text_encoders, trains_encoder) if not trains]
    if any(match_modules(te, entry.text_encoder) for te in frozen):
        why = "their learning rate is 0" if train_text_encoder else "`train_text_encoder` is off"
        return f"`{entry.name}` only matches text-encoder layers, and {why}"
    return f"`{entry.name}` matches no Linear or Conv2d layer of this base model"

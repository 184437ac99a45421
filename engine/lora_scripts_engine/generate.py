"""Renders prompts with a base model and a LoRA at several strengths: same prompts and seeds in every column,
so the only difference between columns is the LoRA. Loads the base model once for every image."""
from __future__ import annotations

import os

import torch

from .device import pick_compute
from .models import load_base_model
from .protocol import emit


def render_strengths(options: dict) -> None:
    compute = pick_compute()
    base = load_base_model(options["base_model"], dtype=compute.dtype, device=compute.device)
    pipe = base.pipeline()
    pipe.set_progress_bar_config(disable=True)
    pipe.load_lora_weights(options["lora"], adapter_name="style")
    os.makedirs(options["out_dir"], exist_ok=True)
    files = []
    for strength in options["strengths"]:
        pipe.set_adapters(["style"], adapter_weights=[float(strength)])
        for p_index, prompt in enumerate(options["prompts"]):
            for seed in options["seeds"]:
                generator = torch.Generator("cpu").manual_seed(int(seed))
                image = pipe(prompt, negative_prompt=options.get("negative_prompt") or None, height=options["size"], width=options["size"],
                             num_inference_steps=options["steps"], guidance_scale=options["guidance_scale"], generator=generator).images[0]
                path = os.path.join(options["out_dir"], f"strength-{strength:.2f}-prompt-{p_index}-seed-{seed}.png")
                image.save(path + ".tmp.png")
                os.replace(path + ".tmp.png", path)
                files.append(path)
                emit("sample", step=0, prompt=prompt, path=path)
    emit("done", files=files)

"""Renders the config's sample prompts with the LoRA as it is now, to <output_dir>/samples and TensorBoard."""

from __future__ import annotations

import os

import numpy as np
import torch

from .protocol import emit


def render_samples(base, config, resolution: int, step: int, logs) -> None:
    pipe = base.pipeline()
    pipe.set_progress_bar_config(disable=True)
    models = [base.unet, *base.text_encoders]
    was_training = [m.training for m in models]
    for m in models:
        m.eval()
    folder = os.path.join(config.output_dir, "samples")
    os.makedirs(folder, exist_ok=True)
    try:
        for index, prompt in enumerate(config.sample_prompts):
            # A fixed seed per prompt: samples at different steps differ only by what the LoRA learned.
            generator = torch.Generator("cpu").manual_seed(config.seed + index)
            with torch.no_grad():
                image = pipe(
                    prompt,
                    height=resolution,
                    width=resolution,
                    num_inference_steps=config.sample_inference_steps,
                    generator=generator,
                ).images[0]
            path = os.path.join(folder, f"step-{step:08d}-{index}.png")
            temp = path + ".tmp.png"
            image.save(temp)
            os.replace(temp, path)
            logs.add_image(f"samples/{index}", np.asarray(image), step)
            emit("sample", step=step, prompt=prompt, path=path)
    finally:
        for m, flag in zip(models, was_training):
            m.train(flag)

"""Put on PYTHONPATH for every benchmarked trainer (ours through node, diffusers', kohya's): when
LORA_SCRIPTS_BENCH_STEP_TIMES names a file, every optimizer step appends time.perf_counter() to it. The hook is
registered when the trainer itself imports torch.optim, so Python processes that never train pay nothing. The same
file gets `first-forward <time>` when the first training step begins: the first forward call, with autograd on, of a
module holding trainable parameters (a LoRA layer; frozen VAE and text-encoder work before it is not a step of its
own in any trainer) once the first optimizer exists (our engine's CPU-kernel self-check trains a layer before that).
That hook then removes itself, so the steps run without a global hook.
For the comparison runs only, LORA_SCRIPTS_BENCH_TORCHVISION_STANDIN names torchvision_standin/finder.py, which serves
the stand-in torchvision transforms (see that file)."""

import importlib.abc
import importlib.util
import os
import sys
import time

STEP_TIMES = os.environ.get("LORA_SCRIPTS_BENCH_STEP_TIMES")
TORCHVISION_STANDIN = os.environ.get("LORA_SCRIPTS_BENCH_TORCHVISION_STANDIN")
WATCHED = "torch.optim.optimizer"


def record_step(optimizer, args, kwargs) -> None:
    with open(STEP_TIMES, "a") as out:
        out.write(f"{time.perf_counter()!r}\n")


def record_first_training_forward() -> None:
    import torch

    def pre_hook(module, args):
        if torch.is_grad_enabled() and any(p is not None and p.requires_grad for p in module._parameters.values()):
            handle.remove()
            with open(STEP_TIMES, "a") as out:
                out.write(f"first-forward {time.perf_counter()!r}\n")

    handle = torch.nn.modules.module.register_module_forward_pre_hook(pre_hook)


class RegisterHookOnImport(importlib.abc.MetaPathFinder):
    """Finds nothing itself; wraps the real loader of torch.optim.optimizer to register the hook once it has run."""

    def find_spec(self, name, path, target=None):
        if name != WATCHED:
            return None
        sys.meta_path.remove(self)
        spec = next(s for s in (f.find_spec(name, path, target) for f in sys.meta_path if hasattr(f, "find_spec")) if s)
        run_module = spec.loader.exec_module

        def exec_module(module):
            run_module(module)
            module.register_optimizer_step_post_hook(record_step)
            construct = module.Optimizer.__init__

            def init_and_arm(optimizer, *args, **kwargs):
                module.Optimizer.__init__ = construct  # once: the first optimizer arms the hook
                record_first_training_forward()
                construct(optimizer, *args, **kwargs)

            module.Optimizer.__init__ = init_and_arm

        spec.loader.exec_module = exec_module
        return spec


if STEP_TIMES:
    sys.meta_path.insert(0, RegisterHookOnImport())

if TORCHVISION_STANDIN:
    spec = importlib.util.spec_from_file_location("lora_scripts_bench_torchvision_finder", TORCHVISION_STANDIN)
    finder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(finder)
    finder.install()

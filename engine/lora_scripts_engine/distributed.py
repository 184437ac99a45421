"""One training job in several processes (`devices: [0, 1]`, `all`, `cpu:N`), started by accelerate's launcher.

Data parallel, done so that N processes compute what one process computes with the same global batch:

- every process draws the randomness of the WHOLE global micro-batch (captions, crops, latent samples, noise,
  timesteps) from the same seeded generators, exactly as one process would, and computes only its slice of it;
- each slice's loss is weighted by its share of the micro-batch, and the LoRA gradients are summed across processes
  before the optimizer step (one flat all-reduce through accelerate's `reduce`), so every process holds the single
  process's mean gradient and takes the same optimizer step: the weights never drift apart;
- so the training state (weights, optimizer, RNG, position in global micro-batches) is the one a single process would
  save, and it resumes with any process count that keeps the global batch.

Why not `accelerator.prepare(unet)` (DDP): it wraps the UNet in a module whose gradient hooks fire per bucket during
backward, which the engine's fast paths (packed frozen layers, compile, gradient checkpointing) and peft's save path
(`base.unet`) would have to see through; and DDP averages equal-sized slices, while a last micro-batch smaller than the
process count leaves slices of different sizes (or none). A LoRA's gradients are a few MB, so one all-reduce per
optimizer step costs nothing next to the step, and `no_sync` for gradient accumulation is implicit.

A single-process run gets `Solo`: the same calls, each a no-op, so its numbers and speed are unchanged.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass

import torch

from .protocol import log

# Set by the TypeScript launch (src/engine/process.ts): the CLI's own pid. Every process exits when it is gone, so a
# SIGKILLed CLI never leaves a launcher and its ranks training behind it (parent_watch.py covers the direct parent).
WATCH_PID_ENV = "LORA_SCRIPTS_WATCH_PID"
ORPHANED_EXIT_CODE = 3  # parent_watch's


def is_launched() -> bool:
    """True in a process started by a distributed launcher (torch elastic sets WORLD_SIZE for each rank)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def exit_when_pid_gone(pid: int, check_every_s: float = 0.2) -> None:
    """A daemon thread that ends this process at once when `pid` no longer exists (the CLI was killed)."""

    def watch() -> None:
        while True:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                os._exit(ORPHANED_EXIT_CODE)
            except PermissionError:
                pass  # alive, owned by someone else
            time.sleep(check_every_s)

    threading.Thread(target=watch, name="exit-when-cli-gone", daemon=True).start()


class Solo:
    """One process: every collective is the identity."""

    count = 1
    index = 0
    is_main = True

    def part(self, size: int) -> slice:
        return slice(0, size)

    def sum_(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor

    def sum_gradients(self, params: list[torch.Tensor]) -> None:
        pass

    def any(self, flag: bool) -> bool:
        return flag

    def barrier(self) -> None:
        pass


@dataclass
class Group:
    """N processes joined by accelerate's PartialState (NCCL on GPUs, gloo on the CPU)."""

    state: object  # accelerate.PartialState

    @property
    def count(self) -> int:
        return self.state.num_processes

    @property
    def index(self) -> int:
        return self.state.process_index

    @property
    def is_main(self) -> bool:
        return self.state.is_main_process

    def part(self, size: int) -> slice:
        """This process's contiguous slice of a micro-batch of `size`: sizes differ by at most one, and are empty
        when the micro-batch has fewer pictures than processes (its last one, say)."""
        base, extra = divmod(size, self.count)
        start = self.index * base + min(self.index, extra)
        return slice(start, start + base + (1 if self.index < extra else 0))

    def sum_(self, tensor: torch.Tensor) -> torch.Tensor:
        from accelerate.utils import reduce

        return reduce(tensor, reduction="sum")

    def sum_gradients(self, params: list[torch.Tensor]) -> None:
        """Sums every LoRA gradient across processes in one flat all-reduce; a process whose slice was empty (or that
        never reached a layer) adds zeros."""
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        flat = self.sum_(torch.cat([g.reshape(-1) for g in grads]))
        offset = 0
        for param, grad in zip(params, grads):
            param.grad = flat[offset : offset + grad.numel()].view_as(grad).to(grad.dtype)
            offset += grad.numel()

    def any(self, flag: bool) -> bool:
        """True on every process when it is true on one (a Ctrl-C that reached one rank stops all at the same step)."""
        device = "cuda" if torch.cuda.is_available() and self.state.backend == "nccl" else "cpu"
        return bool(self.sum_(torch.tensor([1.0 if flag else 0.0], device=device)).item() > 0)

    def barrier(self) -> None:
        self.state.wait_for_everyone()


_current: Solo | Group = Solo()


def current() -> Solo | Group:
    return _current


def join() -> Solo | Group:
    """In a launched process: join the group (the launcher's env says where), pin this rank's GPU, and silence this
    rank's protocol channel unless it is the first. Otherwise: Solo."""
    global _current
    watched = os.environ.get(WATCH_PID_ENV)
    if watched:
        exit_when_pid_gone(int(watched))
    if not is_launched():
        return _current
    from accelerate import PartialState

    # ACCELERATE_USE_CPU: set by the launch for `devices: cpu:N`; PartialState then joins over gloo.
    state = PartialState(cpu=os.environ.get("ACCELERATE_USE_CPU", "").lower() in ("1", "true"))
    if torch.cuda.is_available() and state.backend == "nccl":
        torch.cuda.set_device(state.local_process_index)
    _current = Group(state)
    if not _current.is_main:
        from .protocol import set_channel

        set_channel(RankLog(state.process_index))
    return _current


class RankLog:
    """The protocol channel of ranks other than the first: their events are dropped (the first rank reports the run),
    but an error is kept in the log, which is where a failure of that rank alone shows."""

    def __init__(self, rank: int):
        self.rank = rank

    def write(self, line: str) -> None:
        if line.startswith('{"type":"error"'):
            log(f"rank {self.rank}: {line.rstrip()}")

    def flush(self) -> None:
        sys.stderr.flush()

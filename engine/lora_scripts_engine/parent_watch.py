"""The engine ends when the process that started it dies, so a killed server never leaves a training behind it.

A SIGKILLed server (OOM killer, `kill -9`) cannot stop its engine. Without this, the orphan goes on until its next
event fails on the closed pipe, and in a long silent phase (loading a model, caching latents, rendering samples) it
keeps writing into the output folder while a restarted server already resumes the same job there. Every state is
written atomically (training_state.save_state), so exiting at any moment leaves the last complete state to resume.
"""

from __future__ import annotations

import os
import threading
import time

# How long an orphaned engine may go on: short next to a training step, long enough to cost nothing.
CHECK_EVERY_S = 0.2

# The exit status of an orphaned engine; no one reads it (its parent is gone), but a test can tell it apart.
ORPHANED_EXIT_CODE = 3


def exit_when_orphaned(check_every_s: float = CHECK_EVERY_S) -> None:
    """Starts a daemon thread that ends the process at once (no cleanup, no more writes) when its parent is gone.

    A dead parent's children are re-parented (to init or a subreaper), so the parent pid changing is the sign; it
    works on Linux and macOS alike. Call it first thing: the parent may die while the model is still loading.
    """
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(check_every_s)
        # os._exit, not sys.exit: the main thread may be deep in a training step and must not save anything more.
        os._exit(ORPHANED_EXIT_CODE)

    threading.Thread(target=watch, name="exit-when-orphaned", daemon=True).start()

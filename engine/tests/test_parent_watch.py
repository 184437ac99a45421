"""An engine whose parent is killed exits on its own (parent_watch.py), even while it writes nothing: here neither a
closed stdin nor a broken stdout pipe can be what ends it, as the test holds both open."""

from __future__ import annotations

import io
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from lora_scripts_engine import __main__ as engine_main
from lora_scripts_engine import protocol

REPO = Path(__file__).resolve().parents[2]
WAIT_S = 60  # generous: the watcher looks every 0.2 s, a busy machine may be slow to schedule it

# The orphan to be: arms the watch, says so on stdout, then waits on a stdin that never ends.
WATCHED = """
import sys
from lora_scripts_engine.parent_watch import exit_when_orphaned
exit_when_orphaned()
print("armed", flush=True)
sys.stdin.readline()
"""

# Its parent: starts it with the stdin and stdout the test gave, says its pid on stderr, then waits to be killed.
PARENT = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", sys.argv[1]])
print(child.pid, file=sys.stderr, flush=True)
time.sleep(600)
"""


def test_a_process_that_watches_its_parent_exits_when_the_parent_is_killed():
    stdin_read, stdin_write = os.pipe()  # the test keeps the write end: the child's stdin never reaches EOF
    out_read, out_write = os.pipe()  # the child's stdout: EOF once the child, its last holder, has exited
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, WATCHED],
        stdin=stdin_read,
        stdout=out_write,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO / "engine")},
        text=True,
    )
    os.close(stdin_read)
    os.close(out_write)
    child_pid = None
    try:
        child_pid = int(parent.stderr.readline())
        out = os.fdopen(out_read, "rb", buffering=0)
        assert read_line(out) == b"armed\n"

        parent.kill()
        parent.wait(timeout=WAIT_S)
        ready, _, _ = select.select([out], [], [], WAIT_S)
        assert ready, f"the child still runs {WAIT_S} s after its parent was killed"
        assert out.read() == b""  # EOF: it exited, writing nothing more
        # Its stdout closes while the process is still being torn down (state R/D for a moment on a busy machine):
        # what matters is that it is gone, or a zombie its new parent has not reaped, soon after.
        assert wait_until_exited(child_pid), f"the child still runs {WAIT_S} s after its stdout closed"
    finally:
        parent.kill()
        parent.wait(timeout=WAIT_S)
        if child_pid is not None and is_running(child_pid):
            os.kill(child_pid, signal.SIGKILL)
        os.close(stdin_write)


def test_the_engine_arms_the_watch_before_it_reads_its_request(monkeypatch):
    armed = []
    monkeypatch.setattr(engine_main, "exit_when_orphaned", lambda: armed.append(sys.stdin.tell()))
    monkeypatch.setattr(sys, "stdin", io.StringIO("not a request\n"))
    monkeypatch.setattr(sys, "stdout", io.StringIO())  # main() swaps it for stderr; monkeypatch puts it back
    monkeypatch.setattr(protocol, "_channel", protocol._channel)
    assert engine_main.main() == 1
    assert armed == [0]  # armed once, with nothing read yet


def read_line(stream) -> bytes:
    line = b""
    while not line.endswith(b"\n"):
        ready, _, _ = select.select([stream], [], [], WAIT_S)
        assert ready, f"no line in {WAIT_S} s"
        byte = stream.read(1)
        assert byte, f"the child exited after {line!r}"
        line += byte
    return line


def wait_until_exited(pid: int) -> bool:
    deadline = time.monotonic() + WAIT_S
    while is_running(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def is_running(pid: int) -> bool:
    """True while the process runs; a zombie (exited, not yet reaped by its new parent) counts as exited."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    except OSError:  # no /proc (macOS): ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return state != "Z"

"""Gives outputs the mode of an ordinary new file or folder: 0666 / 0777 less the umask, as `open` and `mkdir` do.
safetensors' `save_file` (it writes through its own temp file) and tempfile's `mkdtemp` create 0600 / 0700, which
another user, a web server or a worker on shared storage cannot read."""

from __future__ import annotations

import os


def process_umask() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    # No /proc (macOS): reading the umask means setting it, so set it straight back.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def as_ordinary_file(path: str | os.PathLike) -> None:
    os.chmod(path, 0o666 & ~process_umask())


def as_ordinary_folder(path: str | os.PathLike) -> None:
    os.chmod(path, 0o777 & ~process_umask())

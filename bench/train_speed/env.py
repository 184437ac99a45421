"""The comparison environment: a venv that sees the engine venv's packages (the SAME torch build, no second copy) plus
`datasets` (diffusers-requirements.txt), which diffusers' example script needs for its imagefolder loader."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

from .paths import BENCH_VENV, REPO

REQUIREMENTS = Path(__file__).resolve().parent / "diffusers-requirements.txt"
STAMP_NAME = "lora-scripts-requirements.txt"  # a copy of the requirements it was built from


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def ensure_comparison_venv(log) -> Path:
    """Creates ~/.cache/lora-scripts/bench-venv-diffusers once; returns its python."""
    python, stamp = venv_python(BENCH_VENV), BENCH_VENV / STAMP_NAME
    if python.exists() and stamp.exists() and stamp.read_text() == REQUIREMENTS.read_text():
        return python
    log(f"setting up the comparison venv at {BENCH_VENV} (the engine venv's packages + {REQUIREMENTS.name})")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(BENCH_VENV)], check=True)
    # sys.executable is the engine venv's python: its site-packages go on the new venv's path after the venv's own.
    site_packages = Path(
        subprocess.check_output(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True
        ).strip()
    )
    (site_packages / "engine-venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # The engine venv's pip installs into the new venv (pip's --python); torch is pinned so nothing can replace it.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "-c",
            str(REPO / "engine" / "constraints-cpu.txt"),
            "-r",
            str(REQUIREMENTS),
        ],
        check=True,
    )
    if can_import(python, "torchvision"):
        raise SystemExit("the comparison venv pulled in torchvision; remove it from " + str(BENCH_VENV))
    stamp.write_text(REQUIREMENTS.read_text())
    return python


def can_import(python: Path, module: str) -> bool:
    code = f"import importlib.util, sys; sys.exit(0 if importlib.util.find_spec({module!r}) else 1)"
    return subprocess.run([str(python), "-c", code], capture_output=True).returncode == 0

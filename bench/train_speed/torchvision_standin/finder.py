"""Serves the stand-in `torchvision` package (beside this file) to real imports only.

transformers and diffusers probe for torchvision with importlib.util.find_spec and, when it is found, import much more
of it (torchvision.transforms.v2, torchvision.io) than the training scripts use. The stand-in answers only an import
statement, so those probes still see no torchvision and the libraries take their torchvision-free paths."""

import importlib.machinery
import sys
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)


class StandInFinder:
    def find_spec(self, name, path=None, target=None):
        if name != "torchvision" or not called_by_import_statement():
            return None
        return importlib.machinery.PathFinder.find_spec(name, [HERE])


def called_by_import_statement() -> bool:
    # finder.find_spec ← importlib._bootstrap._find_spec ← _find_and_load_unlocked (import) or importlib.util.find_spec (probe)
    return sys._getframe(3).f_code.co_name == "_find_and_load_unlocked"


def install() -> None:
    sys.meta_path.append(StandInFinder())

#!/usr/bin/env python3
"""Thin forward for the widely read article: `python train.py --config configs/x.yaml` runs `lora-scripts train`."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.abspath(__file__))
sys.exit(subprocess.call(["node", os.path.join(ROOT, "bin", "lora-scripts.mjs"), "train", *sys.argv[1:]]))

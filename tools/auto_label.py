#!/usr/bin/env python3
"""Thin forward for the article: `python tools/auto_label.py --input DIR --output DIR/metadata.csv` runs `lora-scripts auto-label`."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.exit(subprocess.call(["node", os.path.join(ROOT, "bin", "lora-scripts.mjs"), "auto-label", *sys.argv[1:]]))

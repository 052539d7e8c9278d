"""Regenerate the committed tiny bundle (tests/data/tiny-bundle) with the export stage.

usage: python tests/data/make_tiny_bundle.py [OUT_DIR]   (default: tests/data/tiny-bundle)

It holds a random tiny BERT (hidden 32, 2 layers) exported to fp32, per-row int8 and
int8-static, so the scorer, io and CLI tests run without torch. ``tests/test_tiny_bundle.py`` checks that it still
matches what the export stage produces.
"""

import os
import shutil
import sys

from sentiscore.testing import build_tiny_bundle

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "tiny-bundle")
shutil.rmtree(out, ignore_errors=True)
build_tiny_bundle(out)
os.remove(os.path.join(out, "export_report.json"))  # timings and local paths: not needed
print(out, sorted(os.listdir(out)))

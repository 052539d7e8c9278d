"""Copy the int8 variant of a full bundle into sentiscore/models/default/ with its card.

The full bundle (fp32 + int8 + fp16, ~150 MB) stays out of the repository; the shipped one
holds model.int8.onnx, tokenizer.json, sentiscore.json (int8 only, fresh sha256s, card) and
README.md. Bump --version whenever the weights change: every re-commit grows the repository.

usage: python benchmarks/default_model/ship.py FULL_BUNDLE --version 1.0.0 --card card.json
"""

import argparse
import json
import os
import shutil

from sentiscore.infer.bundle import MANIFEST, sha256_file

ap = argparse.ArgumentParser()
ap.add_argument("bundle")
ap.add_argument("--out", default="sentiscore/models/default")
ap.add_argument("--version", required=True)
ap.add_argument(
    "--card", required=True, help="JSON with data, metrics, intended_use, limits, licence"
)
args = ap.parse_args()

meta = json.load(open(os.path.join(args.bundle, MANIFEST)))
card = json.load(open(args.card))
if os.path.isdir(args.out):
    shutil.rmtree(args.out)
os.makedirs(args.out)
for name in ("model.int8.onnx", "tokenizer.json"):
    shutil.copy2(os.path.join(args.bundle, name), os.path.join(args.out, name))
meta["variants"] = {"int8": meta["variants"]["int8"]}
meta["version"] = args.version
meta["files"] = {
    n: sha256_file(os.path.join(args.out, n)) for n in ("model.int8.onnx", "tokenizer.json")
}
meta["card"] = card
with open(os.path.join(args.out, MANIFEST), "w") as f:
    json.dump(meta, f, indent=2)
with open(os.path.join(args.out, "README.md"), "w") as f:
    f.write(card["markdown"])
total = sum(os.path.getsize(os.path.join(args.out, n)) for n in os.listdir(args.out))
print(f"shipped {args.out}: {total / 2**20:.1f} MiB")

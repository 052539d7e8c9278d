"""Copy the CPU variants of a full bundle into sentiscore/models/default/ with its card.

The full bundle (fp32 + int8 + int8-static, ~130 MB) stays out of the repository; the shipped
one holds the per-row int8 and int8-static graphs (``--variants``), tokenizer.json,
sentiscore.json (those variants only, fresh sha256s, card) and README.md. Bump --version
whenever the weights change: every re-commit grows the repository.

usage: python benchmarks/default_model/ship.py FULL_BUNDLE --version 2.0.0 [--variants int8,int8-static] \
           --card benchmarks/default_model/card.json.in --evals benchmarks/default_model/results
"""

import argparse
import json
import os
import shutil

from sentiscore.infer.manifest import MANIFEST
from sentiscore.io.writers import sha256_file

ap = argparse.ArgumentParser()
ap.add_argument("bundle")
ap.add_argument("--out", default="sentiscore/models/default")
ap.add_argument("--version", required=True)
ap.add_argument("--variants", default="int8,int8-static", help="the CPU variants to ship")
ap.add_argument(
    "--source-model",
    default="sentence-transformers/all-MiniLM-L6-v2, fine-tuned with sentiscore train (see card)",
)
ap.add_argument(
    "--variant-from",
    action="append",
    default=[],
    metavar="PRECISION=BUNDLE",
    help="ship this variant's file and manifest entry unchanged from another bundle (a copy of "
    "the previous default, say), instead of the full bundle's",
)
ap.add_argument(
    "--card", required=True, help="JSON with data, training, intended_use, limits, licence"
)
ap.add_argument(
    "--evals", required=True, help="directory of <set>_<precision>.json from `sentiscore evaluate`"
)
args = ap.parse_args()


def metrics_from(evals: str) -> dict:
    out = {}
    for name in sorted(os.listdir(evals)):
        if name.endswith(".json"):
            m = json.load(open(os.path.join(evals, name)))["metrics"]
            out[name[:-5]] = {
                k: round(m[k], 4) for k in ("accuracy", "f1_macro", "roc_auc", "ece")
            } | {"n": m["n"]}
    return out


def markdown(card: dict, version: str) -> str:
    rows = "\n".join(
        f"| {k} | {v['n']} | {v['accuracy']:.2%} | {v['f1_macro']:.4f} | {v['roc_auc']:.4f} | {v['ece']:.4f} |"
        for k, v in card["metrics"].items()
    )
    return (
        f"# {card['name']} (bundle {version})\n\n## Data\n{card['data']}\n\n## Training\n{card['training']}\n\n"
        "## Metrics (`sentiscore evaluate`, CPU)\n| set_precision | rows | accuracy | macro F1 | ROC AUC | ECE |\n"
        f"|---|---|---|---|---|---|\n{rows}\n\n{card.get('metrics_note', '')}\n\n## Intended use\n{card['intended_use']}\n\n## Limits\n{card['limits']}\n\n"
        f"## Bias, privacy, transparency\n{card['bias_privacy_transparency']}\n\n## Licence lineage\n{card['licence']}\n"
    )


meta = json.load(open(os.path.join(args.bundle, MANIFEST)))
card = json.load(open(args.card))
card["metrics"] = metrics_from(args.evals)
card["markdown"] = markdown(card, args.version)
if os.path.isdir(args.out):
    shutil.rmtree(args.out)
os.makedirs(args.out)
meta["variants"] = {p: meta["variants"][p] for p in args.variants.split(",")}
source = {v["file"]: args.bundle for v in meta["variants"].values()} | {
    "tokenizer.json": args.bundle
}
for spec in args.variant_from:
    precision, other = spec.split("=", 1)
    theirs = json.load(open(os.path.join(other, MANIFEST)))
    entry = theirs["variants"][precision] | {"shipped_unchanged_from": theirs["version"]}
    meta["variants"][precision] = entry
    source[entry["file"]] = other
names = list(source)
for name in names:
    shutil.copy2(os.path.join(source[name], name), os.path.join(args.out, name))
meta["version"] = args.version
meta["source_model"] = args.source_model
meta["files"] = {n: sha256_file(os.path.join(args.out, n)) for n in names}
meta["card"] = {k: v for k, v in card.items() if k != "markdown"}
with open(os.path.join(args.out, MANIFEST), "w") as f:
    json.dump(meta, f, indent=2)
with open(os.path.join(args.out, "README.md"), "w") as f:
    f.write(card["markdown"])
total = sum(os.path.getsize(os.path.join(args.out, n)) for n in os.listdir(args.out))
print(f"shipped {args.out}: {total / 2**20:.1f} MiB")

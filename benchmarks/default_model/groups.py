"""Split a `sentiscore evaluate --group-column domain` metrics.json into one results file per
domain (<short name>_dev_<precision>.json, the form `ship.py --evals` reads), leaving out the
groups that are not dev parts of the review sets (the held-out IMDB *train* rows).

usage: python benchmarks/default_model/groups.py EVAL_DIR/metrics.json OUT_DIR
"""

import argparse
import json
import os

SHORT = {
    "amazon_polarity": "amazon",
    "multi_domain_sentiment": "multi_domain",
    "customer_reviews_cr": "cr",
    "semeval2014_absa_sentences": "semeval",
}
NOTE = "dev part: used for selection and temperature"

ap = argparse.ArgumentParser()
ap.add_argument("metrics")
ap.add_argument("out")
args = ap.parse_args()
report = json.load(open(args.metrics))
os.makedirs(args.out, exist_ok=True)
for group, metrics in report["groups"].items():
    if group in SHORT:
        name = f"{SHORT[group]}_dev_{report['precision']}.json"
        entry = {"data": report["data"], "group": group, "metrics": metrics, "note": NOTE}
        with open(os.path.join(args.out, name), "w") as f:
            json.dump(entry, f, indent=2)
        print(f"{name}: accuracy {metrics['accuracy']:.4f} ECE {metrics['ece']:.4f}")

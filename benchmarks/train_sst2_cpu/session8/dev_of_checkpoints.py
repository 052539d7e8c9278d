"""SST-2 dev accuracy of saved checkpoints next to the validation accuracy the Trainer logged for
them (diagnostics for runs 16-18: does the held-out-sentence validation pick the best one?).

usage: python dev_of_checkpoints.py OUT.jsonl CHECKPOINT_DIR...   (each dir holds the weights,
tokenizer and trainer_state.json of one `checkpoint-N`, copied before save_total_limit deleted it)
"""

import json
import os
import sys

import torch
import transformers

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "session7"))
from devcurve import dev_acc  # noqa: E402

torch.set_num_threads(2)
out, dirs = sys.argv[1], sys.argv[2:]
tok = transformers.AutoTokenizer.from_pretrained(dirs[0])
with open(out, "w") as f:
    for d in sorted(dirs, key=lambda p: int(p.rstrip("/").rsplit("-", 1)[1])):
        state = json.load(open(os.path.join(d, "trainer_state.json")))
        last = [h for h in state["log_history"] if "eval_accuracy" in h][-1]
        model = transformers.AutoModelForSequenceClassification.from_pretrained(d)
        row = {"step": last["step"], "epoch": round(last["epoch"], 3),
               "validation": round(last["eval_accuracy"], 4), "eval_loss": round(last["eval_loss"], 4),
               "dev": round(dev_acc(model, tok), 4)}
        print(json.dumps(row), flush=True)
        f.write(json.dumps(row) + "\n")

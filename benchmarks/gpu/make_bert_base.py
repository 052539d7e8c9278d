"""A bert-base-shaped sentiment bundle with random weights (fp32 and fp16 variants), made with
``sentiscore export`` from a seeded BertForSequenceClassification and the default model's
tokenizer: for speed measurements only (``prep.py skeleton`` empties its weights for transfer).

    python benchmarks/gpu/make_bert_base.py HF_DIR BUNDLE_DIR
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from baselines import hf_model  # noqa: E402

from sentiscore.infer.bundle import default_bundle_dir  # noqa: E402

hf, bundle = sys.argv[1:3]
hf_model("bert-base", os.path.join(default_bundle_dir(), "tokenizer.json"), hf)
cmd = [sys.executable, "-m", "sentiscore.cli", "export", hf, "-o", bundle]
cmd += ["--precision", "fp32,fp16", "--samples", "64", "--force"]
sys.exit(subprocess.run(cmd).returncode)

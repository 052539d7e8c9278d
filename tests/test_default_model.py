"""The embedded default bundle: loads, checksums match, clear sentences come out right."""

import json
import os

import pytest

from sentiscore.infer.bundle import default_bundle_dir, load_bundle
from sentiscore.infer.scorer import Scorer
from sentiscore.io.writers import sha256_file

pytestmark = [
    pytest.mark.light,
    pytest.mark.skipif(
        not os.path.exists(os.path.join(default_bundle_dir(), "sentiscore.json")),
        reason="default bundle not built into this checkout",
    ),
]


def test_default_bundle_loads_and_checksums_match():
    b = load_bundle("default")
    for name, digest in b.meta["files"].items():
        assert sha256_file(os.path.join(b.path, name)) == digest
    assert b.labels == ["negative", "positive"]
    assert "int8-static" in b.meta["variants"]  # the fast CPU variant that passed the gate
    assert all(v["status"] == "ok" and v["row_invariant"] for v in b.meta["variants"].values())
    size = sum(os.path.getsize(os.path.join(b.path, n)) for n in os.listdir(b.path))
    assert size < 50 * 2**20  # 22 MB graphs and the tokenizer; no fp32 graph
    card = b.meta["card"]
    assert {"data", "metrics", "intended_use", "limits", "licence"} <= set(card)


def test_clear_sentences_come_out_right():
    s = Scorer.load()  # default bundle, auto device
    pos = [
        "The movie was fantastic! I loved it.",
        "Absolutely wonderful, I would recommend it to everyone.",
        "Great product, works perfectly.",
    ]
    neg = [
        "This was a terrible waste of time.",
        "The food was awful and the staff were rude.",
        "It broke after one day. Do not buy.",
    ]
    res = s.predict(pos + neg)
    assert [r["label"] for r in res] == ["positive"] * 3 + ["negative"] * 3
    assert all(r["score"] > 0.8 for r in res)


def test_score_console_default_model(tmp_path):
    from click.testing import CliRunner

    from sentiscore.cli import cli

    r = CliRunner().invoke(cli, ["predict", "--json", "The movie was fantastic! I loved it."])
    assert r.exit_code == 0, r.output
    row = json.loads(r.output.strip().splitlines()[-1])
    assert row["label"] == "positive" and row["probs"]["positive"] > 0.9


def test_predict_reads_stdin_and_refuses_nothing():
    from click.testing import CliRunner

    from sentiscore.cli import cli

    r = CliRunner().invoke(cli, ["predict", "--json"], input="Loved it.\r\n\nDreadful.\n")
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in r.output.strip().splitlines()]
    assert [(x["text"], x["label"]) for x in rows] == [
        ("Loved it.", "positive"),
        ("", None),  # a blank line keeps its place, with an error
        ("Dreadful.", "negative"),
    ]
    assert rows[1]["error"] == "text is empty"
    r = CliRunner().invoke(cli, ["predict"], input="")
    assert r.exit_code != 0 and "empty stdin" in r.output and "Traceback" not in r.output

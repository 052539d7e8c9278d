"""score_files / `sentiscore score`: outputs, formats, existing output, resume after kill -9."""

import json
import os
import signal
import subprocess
import sys
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from sentiscore.cli import cli
from sentiscore.errors import OutputExistsError, ResumeError
from sentiscore.infer.files import score_files
from sentiscore.testing import sample_reviews

pytestmark = pytest.mark.light  # no torch needed: the torch-free test tier


def _write(path, n=50, seed=0):
    rows = sample_reviews(n, seed=seed)
    pq.write_table(
        pa.table({"id": list(range(n)), "text": [t for t, _ in rows]}), path, row_group_size=7
    )
    return str(path)


def test_default_output_beside_input_all_rows_in_order(tiny_bundle, tmp_path):
    src = _write(tmp_path / "reviews.parquet", 45)
    stats = score_files(
        [src], model=tiny_bundle, chunk_rows=10, stats_json=str(tmp_path / "s.json")
    )
    out = pq.read_table(tmp_path / "reviews.scored.parquet")
    assert out.column("id").to_pylist() == list(range(45))
    assert stats["rows"] == 45 and stats["errors"] == 0 and 0 < stats["padding_efficiency"] <= 1
    assert json.loads((tmp_path / "s.json").read_text())["rows_written"] == 45
    assert not os.path.exists(tmp_path / "reviews.scored.parquet.parts")


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_output_formats_follow_extension(tiny_bundle, tmp_path, fmt):
    src = _write(tmp_path / "in.parquet", 12)
    out = tmp_path / f"out.{fmt}"
    score_files([src], model=tiny_bundle, output=str(out))
    text = out.read_text().strip().splitlines()
    assert len(text) == (13 if fmt == "csv" else 12)
    if fmt == "jsonl":
        assert set(json.loads(text[0])) >= {
            "id",
            "text",
            "label",
            "score",
            "prob_positive",
            "error",
        }


def test_directory_output_multiple_inputs_and_limit(tiny_bundle, tmp_path):
    a, b = _write(tmp_path / "a.parquet", 10), _write(tmp_path / "b.parquet", 10, seed=1)
    score_files([a, b], model=tiny_bundle, output=str(tmp_path / "out") + "/")
    assert sorted(os.listdir(tmp_path / "out")) == ["a.scored.parquet", "b.scored.parquet"]
    score_files([a, b], model=tiny_bundle, output=str(tmp_path / "both.parquet"), limit=15)
    assert pq.read_table(tmp_path / "both.parquet").num_rows == 15


def test_existing_output_refused_then_overwrite(tiny_bundle, tmp_path):
    src = _write(tmp_path / "r.parquet", 5)
    score_files([src], model=tiny_bundle)
    with pytest.raises(OutputExistsError, match="--resume.*--overwrite"):
        score_files([src], model=tiny_bundle)
    score_files([src], model=tiny_bundle, overwrite=True)
    r = CliRunner().invoke(cli, ["score", src, "-m", tiny_bundle, "--silent"])
    assert r.exit_code == 1 and "--overwrite" in r.output


def test_cli_score_a_labeled_file_without_flags(tiny_bundle, tmp_path):
    """A labeled file's own 'label' is kept as it is; the predictions go to pred_* columns,
    all of them, in every output part; --prefix '' asks for plain names and is refused."""
    p = tmp_path / "x.csv"
    p.write_text("id,text,label\n1,great film,pos\n2,,neg\n")
    r = CliRunner().invoke(cli, ["score", str(p), "-m", tiny_bundle, "-v"])
    assert r.exit_code == 0, r.output
    assert "predictions go to pred_label, pred_label_id, pred_score" in r.stderr
    auto = pq.read_table(tmp_path / "x.scored.parquet")
    assert auto.column_names == [
        *("id", "text", "label", "pred_label", "pred_label_id", "pred_score"),
        *("pred_prob_negative", "pred_prob_positive", "pred_error"),
    ]
    plain = tmp_path / "plain.csv"
    plain.write_text("id,text\n1,great film\n")  # no clash: the plain names
    assert CliRunner().invoke(cli, ["score", str(plain), "-m", tiny_bundle]).exit_code == 0
    assert "label" in pq.read_table(tmp_path / "plain.scored.parquet").column_names
    r = CliRunner().invoke(
        cli, ["score", str(p), "-m", tiny_bundle, "--prefix", "", "-o", str(tmp_path / "e.parquet")]
    )
    assert r.exit_code == 1 and "--prefix" in r.output
    r = CliRunner().invoke(
        cli,
        [
            "score",
            str(p),
            "-m",
            tiny_bundle,
            "--prefix",
            "pred_",
            "--overwrite",
            "--stats-json",
            str(tmp_path / "s.json"),
        ],
    )
    assert r.exit_code == 0, r.output
    out = pq.read_table(tmp_path / "x.scored.parquet").to_pylist()
    assert [o["label"] for o in out] == ["pos", "neg"] and out[1]["pred_error"] == "text is empty"
    assert json.loads((tmp_path / "s.json").read_text())["errors"] == 1


def test_cli_score_to_stdout_and_temp_file_removed(tiny_bundle, tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    os.makedirs(tmp_path / "tmp")
    src = _write(tmp_path / "r.parquet", 12)
    r = CliRunner().invoke(cli, ["score", src, "-m", tiny_bundle, "-o", "-", "--silent"])
    assert r.exit_code == 0, r.output
    lines = r.stdout.strip().splitlines()
    assert lines[0].startswith('"id","text","label"') and len(lines) == 13  # header + rows
    bad = CliRunner().invoke(
        cli, ["score", src, "-m", tiny_bundle, "-o", "-", "--text-column", "nope"]
    )
    assert bad.exit_code != 0 and "nope" in bad.output
    assert os.listdir(tmp_path / "tmp") == []  # the temporary file is gone either way


def _runner_code(src, bundle, out, extra=""):
    return f"from sentiscore.infer.files import score_files; score_files([{src!r}], model={bundle!r}, output={out!r}, chunk_rows=40, max_tokens=64{extra})"


def test_resume_after_kill_9_gives_identical_output(tiny_bundle, tmp_path):
    src = _write(tmp_path / "big.parquet", 4800)
    ref = tmp_path / "ref.parquet"
    score_files([src], model=tiny_bundle, output=str(ref), chunk_rows=40, max_tokens=64)
    out = str(tmp_path / "out.parquet")
    proc = subprocess.Popen([sys.executable, "-c", _runner_code(src, tiny_bundle, out)])
    parts = out + ".parts"
    deadline = time.time() + 60
    while time.time() < deadline and not (
        os.path.isdir(parts) and len([n for n in os.listdir(parts) if n.startswith("part-")]) >= 3
    ):
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not os.path.exists(out), "run finished before it could be killed"
    with pytest.raises(OutputExistsError):
        score_files([src], model=tiny_bundle, output=out, chunk_rows=40, max_tokens=64)
    stats = score_files(
        [src], model=tiny_bundle, output=out, chunk_rows=40, max_tokens=64, resume=True
    )
    assert pq.read_table(out).equals(pq.read_table(ref))
    assert 0 < stats["rows_written"] < stats["rows_in_outputs"] == 4800  # earlier parts kept
    from sentiscore.cli.score import _score_summary

    assert _score_summary(stats, out).endswith("(4800 rows in all)")


def test_resume_refused_when_input_changed(tiny_bundle, tmp_path):
    src = _write(tmp_path / "in.parquet", 30)
    out = str(tmp_path / "o.parquet")
    os.makedirs(out + ".parts")
    with open(out + ".parts/manifest.json", "w") as f:
        json.dump({"inputs": [], "bundle": "x"}, f)
    with pytest.raises(ResumeError, match="inputs, bundle"):
        score_files([src], model=tiny_bundle, output=out, resume=True)


def test_resume_of_complete_output_is_a_no_op(tiny_bundle, tmp_path):
    src = _write(tmp_path / "in.parquet", 8)
    score_files([src], model=tiny_bundle)
    r = CliRunner().invoke(cli, ["score", src, "-m", tiny_bundle, "--resume"])
    assert r.exit_code == 0 and "already complete: 8 rows in" in r.output, r.output
    stats = score_files([src], model=tiny_bundle, resume=True)
    assert stats["rows"] == 0 and pq.read_table(tmp_path / "in.scored.parquet").num_rows == 8


def test_id_column_is_always_kept(tiny_bundle, tmp_path):
    src = _write(tmp_path / "in.parquet", 6)
    score_files(
        [src],
        model=tiny_bundle,
        output=str(tmp_path / "o.parquet"),
        keep_columns="none",
        id_column="id",
    )
    assert pq.read_table(tmp_path / "o.parquet").column_names[:2] == ["id", "label"]
    from sentiscore.errors import InputDataError

    with pytest.raises(InputDataError, match="id column named .row_id."):
        score_files(
            [src],
            model=tiny_bundle,
            output=str(tmp_path / "p.parquet"),
            id_column="row_id",
            keep_columns="text",
        )


def test_missing_id_column_and_stats_json_paths(tiny_bundle, tmp_path):
    from sentiscore.errors import ConfigError, InputDataError

    src = _write(tmp_path / "r.parquet", 5)
    with pytest.raises(
        InputDataError, match="id column named 'row_id'.*columns \\['id', 'text'\\]"
    ):
        score_files([src], model=tiny_bundle, id_column="row_id")
    assert not os.path.exists(tmp_path / "r.scored.parquet")  # refused before any output
    stats_path = tmp_path / "new" / "dir" / "s.json"  # missing parents are created
    score_files([src], model=tiny_bundle, id_column="id", stats_json=str(stats_path))
    assert json.loads(stats_path.read_text())["rows"] == 5
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ConfigError, match="writable --stats-json"):
        score_files(
            [src], model=tiny_bundle, overwrite=True, stats_json=str(tmp_path / "afile" / "s.json")
        )
    assert (
        pq.read_table(tmp_path / "r.scored.parquet").num_rows == 5
    )  # the output itself is complete

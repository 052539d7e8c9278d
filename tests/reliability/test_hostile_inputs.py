"""Inputs that used to be scored wrongly or crash: invalid UTF-8 in Parquet strings,
unterminated CSV quotes, long rows in micro-batches, SIGTERM."""

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
from sentiscore.testing import sample_reviews

pytestmark = pytest.mark.light


def test_invalid_utf8_in_a_parquet_string_column_is_a_row_error(tiny_bundle, tmp_path):
    raw = pa.array([b"good film", b"bad \xff\xfe film", b"ok"], type=pa.binary())
    src = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"text": raw.view(pa.string())}), src)
    for out in ("o.parquet", "o.csv", "o.jsonl"):
        r = CliRunner().invoke(cli, ["score", str(src), "-m", tiny_bundle, "-o", str(tmp_path / out)])  # fmt: skip
        assert r.exit_code == 0, r.output
    got = pq.read_table(tmp_path / "o.parquet")
    assert got.column("error").to_pylist() == [None, "text is not valid UTF-8", None]
    assert got.column("text").to_pylist()[1] == "bad \ufffd\ufffd film"
    assert got.column("label").to_pylist()[0] is not None


@pytest.mark.parametrize(
    "body,line",
    [
        ('id,text\n1,"Great film\n2,Bad film\n', 2),
        ('id,text\n1,ok\n2,"Great film\n3,Bad film\n4,"fine"\n5,x\n', 3),
    ],
)
def test_unterminated_csv_quote_names_the_line(tiny_bundle, tmp_path, body, line):
    src = tmp_path / "q.csv"
    src.write_text(body)
    r = CliRunner().invoke(cli, ["score", str(src), "-m", tiny_bundle, "-o", "-"])
    assert r.exit_code == 1 and f"line {line}" in r.output and "quote" in r.output


def test_literal_and_multiline_quotes_still_read(tiny_bundle, tmp_path):
    src = tmp_path / "ok.csv"
    src.write_text('id,text\n1,12" screen\n2,"He said ""wow"",\nthen left"\n3,"fine"\n')
    r = CliRunner().invoke(cli, ["score", str(src), "-m", tiny_bundle, "-o", "-", "--silent"])
    assert r.exit_code == 0, r.output
    assert 'He said ""wow"",\nthen left' in r.stdout and '12"" screen' in r.stdout


def test_long_rows_make_narrow_micro_batches():
    import numpy as np

    from sentiscore.infer.batching import ATTENTION_WIDTH, plan_batches

    long = plan_batches(np.full(16, 512), 4096)
    assert max(len(b) for b in long) * 512 * 512 <= 4096 * ATTENTION_WIDTH
    short = plan_batches(np.full(64, 64), 4096)
    assert max(len(b) for b in short) == 64  # short rows: only the token budget binds


def test_sigterm_saves_parts_and_says_how_to_resume(tiny_bundle, tmp_path):
    rows = sample_reviews(50, seed=2)
    src = tmp_path / "in.parquet"
    pq.write_table(pa.table({"text": [t for t, _ in rows] * 300}), src)
    out = tmp_path / "o.parquet"
    cmd = [sys.executable, "-m", "sentiscore", "score", str(src), "-m", tiny_bundle]
    cmd += [
        "-o",
        str(out),
        "--chunk-rows",
        "100",
        "--silent",
        "--threads",
        "1",
        "--max-tokens",
        "64",
    ]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    parts = tmp_path / "o.parquet.parts"
    deadline = time.time() + 60
    while time.time() < deadline and len(list(parts.glob("part-*.parquet"))) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 130, err
    assert "scored rows are saved" in err and "--resume" in err and not out.exists()
    assert "terminate called" not in err and err.count("\n") == 1, err  # one line, no abort
    done = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert pq.read_table(out).num_rows == 15_000
    assert os.path.exists(out) and not parts.exists()


def test_csv_columns_get_types_from_every_value(tiny_bundle, tmp_path):
    from sentiscore.io.readers import discover_inputs, iter_batches

    src = tmp_path / "t.csv"
    rows = ["id,code,stars,price,ok,review"]
    rows += [f"{i},00{i},{i % 5},{i}.5,true,Good film {i}" for i in range(3000)]
    rows.append(
        "3000,x,5,7,false,123"
    )  # late surprises: a code that is no number; a numeric review
    src.write_text("\n".join(rows) + "\n")
    (inp,) = discover_inputs([str(src)])
    schema = next(iter_batches(inp, 16)).schema
    assert schema.field("id").type == pa.int64() and schema.field("stars").type == pa.int64()
    assert schema.field("price").type == pa.float64() and schema.field("ok").type == pa.bool_()
    assert schema.field("code").type == pa.string()  # 007-style ids keep their zeros
    assert schema.field("review").type == pa.string()  # a text column is always text
    r = CliRunner().invoke(cli, ["score", str(src), "-m", tiny_bundle, "-o", str(tmp_path / "o.parquet")])  # fmt: skip
    assert r.exit_code == 0, r.output
    out = pq.read_table(tmp_path / "o.parquet")
    assert out.column("code").to_pylist()[:2] == ["000", "001"] and out.num_rows == 3001


def test_inputs_into_one_output_unify_or_fail_before_scoring(tiny_bundle, tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.parquet"
    a.write_text("id,text,stars\n1,Good,5\n2,Bad,1\n")
    pq.write_table(pa.table({"id": [3], "text": ["Fine"]}), b)
    out = tmp_path / "all.parquet"
    r = CliRunner().invoke(cli, ["score", str(a), str(b), "-m", tiny_bundle, "-o", str(out)])
    assert r.exit_code == 0, r.output
    got = pq.read_table(out)
    assert got.column("id").to_pylist() == [1, 2, 3]
    assert got.column("stars").to_pylist() == [5, 1, None]  # missing in b: null
    c = tmp_path / "c.parquet"
    pq.write_table(pa.table({"id": ["x9"], "text": ["Fine"]}), c)
    bad = tmp_path / "bad.parquet"
    r = CliRunner().invoke(cli, ["score", str(a), str(c), "-m", tiny_bundle, "-o", str(bad)])
    assert r.exit_code == 1 and "column 'id' is int64" in r.output and "c.parquet" in r.output
    assert not bad.exists() and not (tmp_path / "bad.parquet.parts").exists()


def test_jsonl_types_settle_over_the_whole_file(tiny_bundle, tmp_path):
    import json

    src = tmp_path / "late.jsonl"
    with open(src, "w") as f:
        for i in range(40_000):  # > 1 MiB of null texts and no 'extra' key
            f.write(json.dumps({"id": i, "text": None, "score_in": 1}) + "\n")
        for i in range(5):
            f.write(
                json.dumps({"id": i, "text": "good film", "score_in": 2.5, "extra": {"a": i}})
                + "\n"
            )  # noqa: E501
    assert src.stat().st_size > 1 << 20
    out = tmp_path / "o.parquet"
    r = CliRunner().invoke(cli, ["score", str(src), "-m", tiny_bundle, "-o", str(out), "--silent"])
    assert r.exit_code == 0, r.output
    got = pq.read_table(out)
    assert got.num_rows == 40_005 and got.schema.field("score_in").type == pa.float64()
    assert got.column("extra").to_pylist()[-1] == {"a": 4}
    assert got.column("label").to_pylist()[-1] is not None
    assert got.column("error").to_pylist()[0] == "text is null"
    mixed = tmp_path / "mixed.jsonl"  # a key with several types is read as text
    mixed.write_text('{"id": 1, "text": "a"}\n{"id": "x7", "text": "b"}\n{"id": [1]}\n')
    out = tmp_path / "m.parquet"
    r = CliRunner().invoke(cli, ["score", str(mixed), "-m", tiny_bundle, "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert pq.read_table(out).column("id").to_pylist() == ["1", "x7", "[1]"]
    bad = tmp_path / "bad.jsonl"  # the text itself changing type is refused by line
    bad.write_text('{"id": 1, "text": "a"}\n{"id": 2, "text": 5}\n')
    r = CliRunner().invoke(cli, ["score", str(bad), "-m", tiny_bundle, "-o", "-"])
    assert r.exit_code == 1 and "line 2" in r.output and "'text'" in r.output


def test_invisible_only_texts_are_empty(tiny_bundle, tmp_path):
    """Zero-width spaces, a byte order mark, soft hyphens or NUL alone are nothing to score."""
    texts = ["\u200b\u200b", "\ufeff", " \u00ad\u2060 ", "\x00", "\u200bgood film", "ok"]
    src = tmp_path / "inv.parquet"
    pq.write_table(pa.table({"text": texts}), src)
    out = tmp_path / "o.parquet"
    r = CliRunner().invoke(cli, ["score", str(src), "-m", tiny_bundle, "-o", str(out), "--silent"])
    assert r.exit_code == 0, r.output
    got = pq.read_table(out)
    assert got.column("error").to_pylist() == ["text is empty"] * 4 + [None, None]
    assert got.column("label").to_pylist()[:4] == [None] * 4


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "txt"])
def test_a_five_megabyte_review_is_scored_from_csv_jsonl_and_txt(tiny_bundle, tmp_path, fmt):
    """A row longer than a reader block (1 MiB) is read with larger blocks, not refused."""
    import json

    big = "great acting " * 400_000 + "end"  # 5.2 MB
    texts = ["ok", big, "bad"]
    src = tmp_path / f"big.{fmt}"
    if fmt == "csv":
        src.write_text("text\n" + "".join(f'"{t}"\n' for t in texts))
    elif fmt == "jsonl":
        src.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    else:
        src.write_text("\n".join(texts) + "\n")
    out = tmp_path / "o.parquet"
    r = CliRunner().invoke(cli, ["score", str(src), "-m", tiny_bundle, "-o", str(out), "--silent"])
    assert r.exit_code == 0, r.output
    got = pq.read_table(out)
    assert got.num_rows == 3 and got.column("error").null_count == 3
    assert got.column("text")[1].as_py() == big


@pytest.mark.parametrize("name", ["bomb.jsonl.gz", "bomb.csv.gz", "bomb.txt.gz"])
def test_a_gzip_bomb_of_one_line_is_a_bounded_one_line_error(tiny_bundle, tmp_path, name):
    """One 256 MiB line that gzip packs into 1 MB: refused once it passes 64 MiB."""
    import gzip
    import resource

    src = tmp_path / name
    with gzip.open(src, "wb", compresslevel=1) as f:
        f.write(b'{"text": "' if "jsonl" in name else b"text\n" if "csv" in name else b"")
        block = b"a" * (1 << 20)
        for _ in range(256):
            f.write(block)
        f.write(b'"}\n' if "jsonl" in name else b"\n")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    r = CliRunner().invoke(cli, ["score", str(src), "-m", tiny_bundle, "-o", "-"])
    assert r.exit_code == 1 and "at most 64 MiB" in r.output and "Traceback" not in r.output
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 700, grown_mb  # bounded by the 64 MiB limit, not by the line


def test_a_csv_of_6000_columns_is_read(tiny_bundle, tmp_path):
    names = [f"feature_column_{i}" for i in range(6000)]  # a header of 110 KB
    src = tmp_path / "wide.csv"
    rows = [",".join([""] * 6000 + ["good film"]), ",".join(["1"] * 6000 + ["bad"])]
    src.write_text(",".join([*names, "text"]) + "\n" + "\n".join(rows) + "\n")
    out = tmp_path / "o.parquet"
    args = [
        "score",
        str(src),
        "-m",
        tiny_bundle,
        "-o",
        str(out),
        "--silent",
        "--keep-columns",
        "none",
    ]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.output
    assert pq.read_table(out).column("error").to_pylist() == [None, None]


def _cli(*args, **kwargs):
    kwargs.setdefault("stdout", subprocess.PIPE)
    return subprocess.run(
        [sys.executable, "-m", "sentiscore", *map(str, args)],
        stderr=subprocess.PIPE, text=True, timeout=120, **kwargs,
    )  # fmt: skip


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here")
def test_stdout_on_a_full_device_and_closed_stdin_are_one_line(tiny_bundle):
    src = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "reviews.parquet")
    with open("/dev/full", "wb") as full:
        r = _cli("score", src, "-m", tiny_bundle, "-o", "-", "--silent", stdout=full)
    assert r.returncode == 1 and "No space left on device" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and "<stdout>" in r.stderr
    r = _cli("score", "-", "-m", tiny_bundle, "-o", "-", "--silent", stdin=subprocess.DEVNULL)
    assert r.returncode == 1 and "'<stdin>' is empty (0 bytes)" in r.stderr  # one line
    assert "Traceback" not in r.stderr
    closed = subprocess.run(
        [sys.executable, "-m", "sentiscore", "score", "-", "-m", tiny_bundle, "-o", "-"],
        capture_output=True, text=True, timeout=120, preexec_fn=lambda: os.close(0),
    )  # fmt: skip
    assert closed.returncode == 1 and "stdin is closed" in closed.stderr, closed.stderr


@pytest.mark.parametrize(
    "line,says",
    [
        ('{"text": "good", "n": ' + "[" * 10_000 + "]" * 10_000 + "}", "nested too deeply"),
        ('{"text": "good", "\\ud800k": 1}', "lone surrogate"),
    ],
)
def test_hostile_jsonl_lines_are_one_line_errors(tiny_bundle, tmp_path, line, says):
    src = tmp_path / "h.jsonl"
    src.write_text(line + "\n")
    r = CliRunner().invoke(cli, ["score", str(src), "-m", tiny_bundle, "-o", "-"])
    assert r.exit_code == 1 and says in r.output and "Traceback" not in r.output


def test_jsonl_arrays_of_mixed_or_deep_shapes_are_kept_as_json_text(tiny_bundle, tmp_path):
    import json

    src = tmp_path / "m.jsonl"
    deep = "[" * 200 + "]" * 200
    src.write_text(
        f'{{"text": "good film", "a": [1, "x"], "d": {deep}}}\n{{"text": "bad", "a": [2], "d": []}}\n'
    )
    for out in ("o.parquet", "o.csv", "o.jsonl"):
        args = ["score", str(src), "-m", tiny_bundle, "-o", str(tmp_path / out), "--silent"]
        r = CliRunner().invoke(cli, args)
        assert r.exit_code == 0, r.output
    got = pq.read_table(tmp_path / "o.parquet")
    assert [json.loads(v) for v in got.column("a").to_pylist()] == [[1, "x"], [2]]
    assert json.loads(got.column("d")[0].as_py()) == json.loads(deep)


def test_strip_html_removes_tags_and_entities_and_is_part_of_the_manifest(tiny_bundle, tmp_path):
    from sentiscore.infer.rows import strip_html

    assert strip_html("Great.<br /><br />I loved it &amp; more") == "Great.  I loved it & more"
    assert strip_html("a < b and 3<4") == "a < b and 3<4"  # not tags: kept
    src = tmp_path / "h.csv"
    src.write_text('text\n"Great film.<br /><br />Loved it &amp; the cast"\n"<br/>"\nplain\n')
    out, plain = tmp_path / "o.parquet", tmp_path / "p.parquet"
    base = ["score", str(src), "-m", tiny_bundle, "--silent"]
    assert CliRunner().invoke(cli, [*base, "-o", str(out), "--strip-html"]).exit_code == 0
    assert CliRunner().invoke(cli, [*base, "-o", str(plain)]).exit_code == 0
    got, raw = pq.read_table(out), pq.read_table(plain)
    assert got.column("error").to_pylist() == [None, "text is empty", None]  # only markup
    assert got.column("text").to_pylist() == raw.column("text").to_pylist()  # input kept
    assert got["prob_positive"][0].as_py() != raw["prob_positive"][0].as_py()
    assert got["prob_positive"][2].as_py() == raw["prob_positive"][2].as_py()
    r = CliRunner().invoke(cli, [*base, "-o", str(out), "--resume"])
    assert r.exit_code == 1 and "--strip-html" in r.output

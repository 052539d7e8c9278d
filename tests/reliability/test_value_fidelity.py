"""Every value an input holds comes back in every output format, readable and exact: nested
values, binary, string views, non-finite floats and 19-digit ids (``sentiscore.io.encode``);
and every input is checked before the first row is scored."""

import base64
import datetime
import decimal
import json
import math

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from sentiscore.cli import cli

pytestmark = pytest.mark.light

BIG_ID = 1234567890123456789


def _typed_table() -> pa.Table:
    nan, inf = float("nan"), float("inf")
    return pa.table(
        {
            "text": ["good film", "bad film", "ok"],
            "id": pa.array([BIG_ID, 2, 3]),
            "u64": pa.array([2**64 - 1, 0, None], pa.uint64()),
            "st": pa.array([{"a": 1, "b": "x"}, None, {"a": 2, "b": None}]),
            "bin": pa.array([b"\x00\xff", b"ok", None]),
            "fixed": pa.array([b"ab", b"\xfe\x00", b"cd"], pa.binary(2)),
            "sv": pa.array(["a", "b", None], pa.string_view()),
            "f": pa.array([nan, inf, -inf]),
            "f32": pa.array([1.5, None, nan], pa.float32()),
            "mp": pa.array([[("k", 1)], [], None], pa.map_(pa.string(), pa.int64())),
            "lst": pa.array([[1.5, nan], [], None]),
            "ts": pa.array([datetime.datetime(2020, 1, 1, 12, 30)] * 3),
            "day": pa.array([datetime.date(2021, 2, 3)] * 3),
            "dec": pa.array([decimal.Decimal("1.10")] * 3),
            "dict": pa.array(["x", "y", "x"]).dictionary_encode(),
            "flag": pa.array([True, False, None]),
        }
    )


@pytest.mark.parametrize("fmt", ["parquet", "csv", "tsv", "jsonl", "jsonl.gz", "stdout-csv"])
def test_every_arrow_type_reaches_every_output_format(tiny_bundle, tmp_path, fmt):
    src = tmp_path / "types.parquet"
    pq.write_table(_typed_table(), src)
    if fmt.startswith("stdout"):
        args = ["-o", "-", "--format", fmt.split("-")[1]]
    else:
        args = ["-o", str(tmp_path / f"out.{fmt}")]
    r = CliRunner().invoke(cli, ["score", str(src), "-m", tiny_bundle, "--silent", *args])
    assert r.exit_code == 0, r.output
    if fmt == "parquet":
        want = _typed_table()
        got = pq.read_table(tmp_path / "out.parquet").select(want.schema.names)
        assert repr(got.to_pylist()) == repr(want.to_pylist())  # nan == nan as text
        assert got.schema.field("sv").type == pa.string_view()
    elif fmt.startswith("jsonl"):
        _check_json_lines(tmp_path / f"out.{fmt}")
    else:
        body = r.stdout.encode() if fmt.startswith("stdout") else (tmp_path / f"out.{fmt}")
        _check_csv(body, "\t" if fmt == "tsv" else ",")


def _check_json_lines(path):
    import gzip

    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]  # strict JSON: no bare NaN
    assert [r["id"] for r in rows] == [BIG_ID, 2, 3]
    assert rows[0]["u64"] == 2**64 - 1
    assert rows[0]["st"] == {"a": 1, "b": "x"} and rows[1]["st"] is None
    assert base64.b64decode(rows[0]["bin"]) == b"\x00\xff" and rows[2]["bin"] is None
    assert base64.b64decode(rows[1]["fixed"]) == b"\xfe\x00"
    assert [r["f"] for r in rows] == ["NaN", "Infinity", "-Infinity"]
    assert [r["f32"] for r in rows] == [1.5, None, "NaN"]
    assert [r["mp"] for r in rows] == [{"k": 1}, {}, None]
    assert rows[0]["lst"] == [1.5, "NaN"]
    assert rows[0]["ts"] == "2020-01-01T12:30:00" and rows[0]["day"] == "2021-02-03"
    assert rows[0]["dec"] == "1.10" and [r["dict"] for r in rows] == ["x", "y", "x"]
    assert [r["sv"] for r in rows] == ["a", "b", None]


def _check_csv(source, delimiter):
    opts = pacsv.ConvertOptions(
        column_types={"bin": pa.string(), "fixed": pa.string(), "f": pa.string()},
        strings_can_be_null=False,
    )
    got = pacsv.read_csv(
        pa.py_buffer(source) if isinstance(source, bytes) else str(source),
        parse_options=pacsv.ParseOptions(delimiter=delimiter),
        convert_options=opts,
    )
    assert got.column("id").to_pylist() == [BIG_ID, 2, 3]
    assert json.loads(got.column("st")[0].as_py()) == {"a": 1, "b": "x"}
    assert base64.b64decode(got.column("bin")[0].as_py()) == b"\x00\xff"
    assert base64.b64decode(got.column("fixed")[1].as_py()) == b"\xfe\x00"
    assert [float(v) for v in got.column("f").to_pylist()][1:] == [math.inf, -math.inf]
    assert got.column("f")[0].as_py() == "nan"
    assert json.loads(got.column("mp")[1].as_py()) == {}
    assert json.loads(got.column("lst")[0].as_py()) == [1.5, "NaN"]


def test_19_digit_csv_ids_stay_exact_in_every_format(tiny_bundle, tmp_path):
    """Integers up to int64 are int64; longer ones, or 16+ digits beside fractions, stay text
    (float64 would round them)."""
    src = tmp_path / "ids.csv"
    src.write_text(
        "id,big,mixed,text\n"
        f"{BIG_ID},99999999999999999999,1.5,good film\n"
        "-9223372036854775808,1,12345678901234567,bad film\n"
    )
    for out in ("o.parquet", "o.csv", "o.jsonl"):
        args = ["score", str(src), "-m", tiny_bundle, "-o", str(tmp_path / out), "--silent"]
        assert CliRunner().invoke(cli, args).exit_code == 0
    got = pq.read_table(tmp_path / "o.parquet")
    assert got.column("id").to_pylist() == [BIG_ID, -(2**63)]
    assert got.column("big").to_pylist() == ["99999999999999999999", "1"]
    assert got.column("mixed").to_pylist() == ["1.5", "12345678901234567"]
    assert f"{BIG_ID}," in (tmp_path / "o.csv").read_text()
    first = json.loads((tmp_path / "o.jsonl").read_text().splitlines()[0])
    assert first["id"] == BIG_ID and first["big"] == "99999999999999999999"


def test_a_directory_of_mixed_inputs_is_checked_before_anything_is_scored(tiny_bundle, tmp_path):
    src = tmp_path / "mixed"
    src.mkdir()
    pq.write_table(pa.table({"review_body": ["good stuff", "bad"]}), src / "a.parquet")
    pq.write_table(pa.table({"text": ["fine", "awful"], "label": [1, 0]}), src / "b.parquet")
    out = tmp_path / "out"
    args = ["score", str(src), "-o", f"{out}/", "-m", tiny_bundle, "--text-column", "review_body"]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 1 and "b.parquet" in r.output and "review_body" in r.output
    assert not out.exists() or not list(out.iterdir())  # nothing written, not even a.parquet's

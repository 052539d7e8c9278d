"""Degenerate inputs: files of zero bytes, a header or blank lines only, a Parquet file of one
byte, and a Parquet file of 5,000 one-row row groups. Each is one line (naming the file and
what it lacks) or scored in full, in order."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from sentiscore.cli import cli

pytestmark = pytest.mark.light


@pytest.mark.parametrize(
    "name, body, says",
    [
        ("empty.csv", b"", "is empty (0 bytes)"),
        ("empty.jsonl", b"", "is empty (0 bytes)"),
        ("empty.parquet", b"", "is empty (0 bytes)"),
        ("empty.txt", b"", "is empty (0 bytes)"),
        ("header.csv", b"id,text\n", "has no rows"),
        ("blank.jsonl", b"\n\n", "has no rows"),
        ("blank.csv", b"\n\n", "has no rows"),
        ("onebyte.parquet", b"x", "smaller than the minimum file footer"),
    ],
)
def test_files_without_rows_are_one_line_naming_the_file(tiny_bundle, tmp_path, name, body, says):
    src = tmp_path / name
    src.write_bytes(body)
    out = tmp_path / "out.parquet"
    r = CliRunner().invoke(cli, ["score", str(src), "-m", tiny_bundle, "-o", str(out), "--silent"])
    assert r.exit_code == 1, r.output
    line = r.output.strip()
    assert "\n" not in line and "Traceback" not in line
    assert name in line and says in line
    assert not out.exists()


def test_an_empty_file_among_others_fails_before_anything_is_written(tiny_bundle, tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    pq.write_table(pa.table({"text": ["good", "bad"]}), d / "a.parquet")
    (d / "b.csv").write_bytes(b"")
    out = tmp_path / "out"
    r = CliRunner().invoke(cli, ["score", str(d), "-m", tiny_bundle, "-o", str(out), "--silent"])
    assert r.exit_code == 1 and "b.csv" in r.output and "leave it out" in r.output
    assert not out.exists() or not any(out.iterdir())


def test_five_thousand_row_groups_are_scored_once_each_in_order(tiny_bundle, tmp_path):
    n = 5000
    src = tmp_path / "groups.parquet"
    pq.write_table(
        pa.table({"id": list(range(n)), "text": [f"film {i}" for i in range(n)]}),
        src,
        row_group_size=1,
    )
    assert pq.ParquetFile(src).metadata.num_row_groups == n
    out = tmp_path / "out.parquet"
    r = CliRunner().invoke(cli, ["score", str(src), "-m", tiny_bundle, "-o", str(out), "--silent"])
    assert r.exit_code == 0, r.output
    got = pq.read_table(out)
    assert got.column("id").to_pylist() == list(range(n)) and got.column("error").null_count == n

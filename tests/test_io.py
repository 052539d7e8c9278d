"""Readers: input discovery and the formats (Parquet, CSV/TSV, .gz, JSONL), with clear errors."""

import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sentiscore.errors import InputDataError
from sentiscore.io.readers import count_rows, discover_inputs, iter_batches


def _rows(inp):
    return pa.Table.from_batches(list(iter_batches(inp, batch_rows=3))).to_pylist()


def test_discover_files_dirs_globs(tmp_path):
    (tmp_path / "d").mkdir()
    for name in ("a.parquet", "b.csv", "c.jsonl"):
        (tmp_path / "d" / name).write_text("x")
    (tmp_path / "d" / "a.scored.parquet").write_text("x")  # our own output is skipped
    (tmp_path / "d" / "notes.md").write_text("x")
    found = [i.path.rsplit("/", 1)[-1] for i in discover_inputs([str(tmp_path / "d")])]
    assert found == ["a.parquet", "b.csv", "c.jsonl"]
    assert [i.format for i in discover_inputs([str(tmp_path / "d" / "*.csv")])] == ["csv"]
    with pytest.raises(InputDataError, match="does not exist"):
        discover_inputs([str(tmp_path / "missing.parquet")])
    with pytest.raises(InputDataError, match="nothing matched"):
        discover_inputs([str(tmp_path / "d" / "*.tsv")])
    with pytest.raises(InputDataError, match=r"\.parquet, \.csv"):
        discover_inputs([str(tmp_path / "d" / "notes.md")])


def test_csv_tsv_gz_jsonl_parquet(tmp_path):
    (tmp_path / "a.csv").write_text('id,text\n007,"hello, world"\n2,"multi\nline"\n')
    (tmp_path / "b.tsv").write_text("id\ttext\n1\ttab separated\n")
    with gzip.open(tmp_path / "c.csv.gz", "wt") as f:
        f.write("id,text\n1,zipped\n")
    (tmp_path / "d.jsonl").write_text(
        "\n".join(json.dumps({"id": i, "text": f"t{i}"}) for i in range(5)) + "\n"
    )
    pq.write_table(pa.table({"text": ["p"] * 7}), tmp_path / "e.parquet")
    a = discover_inputs([str(tmp_path / "a.csv")])[0]
    assert _rows(a) == [{"id": "007", "text": "hello, world"}, {"id": "2", "text": "multi\nline"}]
    assert _rows(discover_inputs([str(tmp_path / "b.tsv")])[0]) == [
        {"id": "1", "text": "tab separated"}
    ]
    assert _rows(discover_inputs([str(tmp_path / "c.csv.gz")])[0]) == [
        {"id": "1", "text": "zipped"}
    ]
    assert len(_rows(discover_inputs([str(tmp_path / "d.jsonl")])[0])) == 5
    e = discover_inputs([str(tmp_path / "e.parquet")])[0]
    assert len(_rows(e)) == 7 and count_rows(e) == 7 and count_rows(a) is None


def test_undecodable_csv_names_file_and_line(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_bytes(b"id,text\n1,fine\n2,caf\xe9 latin-1\n")
    inp = discover_inputs([str(p)])[0]
    with pytest.raises(InputDataError, match=r"bad.csv' at line 3"):
        list(iter_batches(inp))

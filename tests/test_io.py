"""Readers: input discovery and the formats (Parquet, CSV/TSV, .gz, JSONL), with clear errors."""

import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sentiscore.errors import InputDataError
from sentiscore.io.readers import count_rows, discover_inputs, iter_batches

pytestmark = pytest.mark.light  # no torch needed: the torch-free test tier


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
    # ids with leading zeros stay strings; plain integers are read as int64
    assert _rows(discover_inputs([str(tmp_path / "b.tsv")])[0]) == [
        {"id": 1, "text": "tab separated"}
    ]
    assert _rows(discover_inputs([str(tmp_path / "c.csv.gz")])[0]) == [{"id": 1, "text": "zipped"}]
    assert len(_rows(discover_inputs([str(tmp_path / "d.jsonl")])[0])) == 5
    e = discover_inputs([str(tmp_path / "e.parquet")])[0]
    assert len(_rows(e)) == 7 and count_rows(e) == 7 and count_rows(a) is None


def test_undecodable_csv_names_file_and_line(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_bytes(b"id,text\n1,fine\n2,caf\xe9 latin-1\n")
    inp = discover_inputs([str(p)])[0]
    with pytest.raises(InputDataError, match=r"bad.csv' at line 3"):
        list(iter_batches(inp))


@pytest.mark.parametrize(
    "second_line, found",
    [
        ('{"text": 5}', "line 2: 'text' holds a JSON number, earlier lines a JSON string"),
        ("not json", "line 2: not valid JSON"),
        ("[1, 2]", "line 2: a JSON array, not an object"),
    ],
)
def test_bad_jsonl_line_is_named(tmp_path, second_line, found):
    # pyarrow reports a row inside a parse block; the error must name the file's line instead
    path = tmp_path / "r.jsonl.gz"
    with gzip.open(path, "wt") as f:
        f.write('{"text": "fine"}\n' + second_line + '\n{"text": "ok"}\n')
    with pytest.raises(InputDataError, match=found.replace("[", r"\[")) as err:
        _rows(discover_inputs([str(path)])[0])
    assert "r.jsonl.gz" in str(err.value)


def test_jsonl_nulls_and_missing_keys_read_fine(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"text": "a", "id": 1}\n\n{"text": null}\n{"id": 3}\n')
    rows = _rows(discover_inputs([str(path)])[0])
    assert [r["text"] for r in rows] == ["a", None, None]
    assert [r["id"] for r in rows] == [1, None, 3]


@pytest.mark.parametrize("uri", ["foo://bucket/x.parquet", "s3://no-such-host.invalid/x.parquet"])
def test_unreachable_uri_is_a_one_line_error(uri, monkeypatch):
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # never a real S3 endpoint
    with pytest.raises(InputDataError, match="An INPUT URI that pyarrow can reach") as err:
        discover_inputs([uri])
    assert uri in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("name", ["out.tsv", "out.csv.gz", "out.tsv.gz", "out.jsonl.gz"])
def test_output_name_sets_delimiter_and_gzip(tmp_path, name):
    # A .tsv output holds tabs and a .gz output is gzip: what the name says, and readable back.
    from sentiscore.io.writers import PartWriter, concat_parts, output_format

    parts = PartWriter(str(tmp_path / "parts"))
    parts.write(0, pa.record_batch({"id": ["1", "2"], "text": ["a, b", "c\td"]}))
    out = str(tmp_path / name)
    assert concat_parts(parts.parts(), out, output_format(out)) == 2
    raw = gzip.open(out).read() if name.endswith(".gz") else open(out, "rb").read()
    if ".tsv" in name:
        assert raw.splitlines()[0] == b'"id"\t"text"'
    rows = _rows(discover_inputs([out])[0])
    # CSV/TSV read integers back as int64; JSONL keeps the strings it was given
    assert [(str(r["id"]), r["text"]) for r in rows] == [("1", "a, b"), ("2", "c\td")]


def test_parquet_output_refuses_gz_name():
    from sentiscore.errors import ConfigError
    from sentiscore.io.writers import output_format

    with pytest.raises(ConfigError, match="without .gz"):
        output_format("out.parquet.gz")
    assert output_format("out.csv.gz") == "csv" and output_format("out.tsv") == "tsv"
    assert output_format("scored") == "parquet"  # no extension: Parquet, as documented
    for name in ("out.xlsx", "out.txt", "out.json.zip"):
        with pytest.raises(ConfigError, match="output name ending in"):
            output_format(name)


def test_csv_with_carriage_return_line_ends_is_read(tmp_path):
    """Old spreadsheet exports end lines with a bare CR: read as rows, not a crash."""
    from sentiscore.io.readers import discover_inputs, iter_batches

    src = tmp_path / "mac.csv"
    src.write_bytes(b"id,text\r1,good film\r2,awful\r")
    (batch,) = list(iter_batches(discover_inputs([str(src)])[0]))
    assert batch.to_pydict() == {"id": [1, 2], "text": ["good film", "awful"]}


def test_a_directory_of_engine_parts_is_read_as_committed(tmp_path):
    """A _SUCCESS that lists parts: exactly those are read (a part of an attempt that did not
    commit is not); Spark's own empty _SUCCESS or none: every part; scratch is skipped."""
    d = tmp_path / "scored"
    (d / "_temporary" / "0").mkdir(parents=True)
    for name in ("part-00000-0.parquet", "part-00001-0.parquet", "_temporary/0/part-9.parquet"):
        pq.write_table(pa.table({"text": ["x"]}), d / name)

    def names():
        return [i.path[len(str(d)) + 1 :] for i in discover_inputs([str(d)])]

    assert names() == ["part-00000-0.parquet", "part-00001-0.parquet"]
    (d / "_SUCCESS").write_text("")  # Spark's own marker lists nothing
    assert names() == ["part-00000-0.parquet", "part-00001-0.parquet"]
    (d / "_SUCCESS").write_text(json.dumps({"parts": [{"name": "part-00001-0.parquet"}]}))
    assert names() == ["part-00001-0.parquet"]

"""Many inputs and little disk: small files share chunks (and parts) without changing a
score, metadata is read once per file and in parallel, a --strict error in a shared chunk
names its file and row, and the final file never needs a second copy of the rows on disk."""

import errno
import os
from collections import namedtuple

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sentiscore.errors import BadRowError, OutputError
from sentiscore.infer import checks, chunking, files
from sentiscore.infer.files import score_files
from sentiscore.io import readers, writers
from sentiscore.testing import sample_reviews

pytestmark = pytest.mark.light


def _small_files(d, n=30, rows=3, csv_from=None):
    """``n`` inputs of ``rows`` rows each (ids run on across files); from ``csv_from`` on,
    CSV files with one more column."""
    texts = [t for t, _ in sample_reviews(n * rows, seed=5)]
    d.mkdir(exist_ok=True)
    for i in range(n):
        t = pa.table(
            {"id": list(range(i * rows, (i + 1) * rows)), "text": texts[i * rows :][:rows]}
        )
        if csv_from is not None and i >= csv_from:
            pa.csv.write_csv(t.append_column("stars", pa.array([5] * rows)), d / f"f{i:03d}.csv")
        else:
            pq.write_table(t, d / f"f{i:03d}.parquet")
    return d


def test_small_inputs_share_chunks_cut_where_the_schema_changes(tmp_path):
    import pyarrow.csv  # noqa: F401 - pa.csv

    d = _small_files(tmp_path / "in", n=12, rows=3, csv_from=8)
    got = list(chunking.chunks(readers.discover_inputs([str(d)]), 10, None))
    # 8 Parquet files (24 rows) in chunks of 10, 10, 4; the CSVs (another schema) 10, 2.
    assert [c.num_rows for _, _, c in got] == [10, 10, 4, 10, 2]
    assert [i for i, _, _ in got] == [0, 1, 2, 3, 4]
    ids = [v for _, _, c in got for v in c.column("id").to_pylist()]
    assert ids == list(range(36))
    _, origin, _ = got[1]  # rows 10..19: f003 from its second row on
    assert origin(0).startswith(f"'{d / 'f003.parquet'}' row 2 ")
    assert origin(8).startswith(f"'{d / 'f006.parquet'}' row 1 ")


def test_resume_with_parts_that_span_files_is_bitwise_whole(tiny_bundle, tmp_path, monkeypatch):
    from sentiscore.infer.scorer import Scorer

    d = _small_files(tmp_path / "in")
    ref, out = tmp_path / "ref.parquet", tmp_path / "out.parquet"
    score_files([str(d)], model=tiny_bundle, output=str(ref), chunk_rows=8)
    real, calls = Scorer.finish, []

    def stop_after_four(self, prep, *rest):
        calls.append(1)
        if len(calls) > 4:
            raise KeyboardInterrupt
        return real(self, prep, *rest)

    monkeypatch.setattr(Scorer, "finish", stop_after_four)
    with pytest.raises(Exception, match="Interrupted"):
        score_files([str(d)], model=tiny_bundle, output=str(out), chunk_rows=8)
    monkeypatch.setattr(Scorer, "finish", real)
    stats = score_files([str(d)], model=tiny_bundle, output=str(out), chunk_rows=5, resume=True)
    assert stats["rows"] == 90 - 32  # scored now: the rows after the four saved parts
    assert pq.read_table(out).equals(pq.read_table(ref))


def test_strict_error_in_a_shared_chunk_names_file_and_row(tiny_bundle, tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    pq.write_table(pa.table({"text": ["fine film", "good"]}), d / "a.parquet")
    pq.write_table(pa.table({"text": ["nice", None]}), d / "b.parquet")
    with pytest.raises(BadRowError, match=r"'[^']*b\.parquet' row 2 \(counting from 1"):
        score_files([str(d)], model=tiny_bundle, output=str(tmp_path / "o.parquet"), strict=True)


def test_metadata_is_read_once_per_file_and_in_parallel(tiny_bundle, tmp_path, monkeypatch):
    import threading

    d = _small_files(tmp_path / "in", n=40, rows=2)
    readers._parquet_metadata.cache_clear()
    real, opens, threads = readers._open_parquet, [], set()

    def counted(inp):
        opens.append(inp.path)
        threads.add(threading.current_thread().name)
        return real(inp)

    monkeypatch.setattr(readers, "_open_parquet", counted)
    inputs = readers.discover_inputs([str(d)])
    assert files.total_rows(inputs, None) == 80
    checks.check_inputs(inputs, ["negative", "positive"], files.ScoreConfig(model=tiny_bundle))
    assert sorted(opens) == sorted(i.path for i in inputs)  # row counts and schemas: one open
    assert any(t.startswith("sentiscore-meta") for t in threads)
    assert [i.path for i in readers.map_inputs(lambda i: i, inputs)] == [i.path for i in inputs]


Usage = namedtuple("Usage", "total used free")


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_little_disk_deletes_each_part_once_copied(tiny_bundle, tmp_path, monkeypatch, fmt):
    d = _small_files(tmp_path / "in")
    ref, out = tmp_path / f"ref.{fmt}", tmp_path / f"out.{fmt}"
    score_files([str(d)], model=tiny_bundle, output=str(ref), chunk_rows=8)
    monkeypatch.setattr(writers.shutil, "disk_usage", lambda p: Usage(1 << 30, 1 << 30, 1 << 20))
    parts_dir, seen = f"{out}.parts", []
    real = writers._write_file

    def watch(path, batches, fmt_, schema, name):
        def each():
            for b in batches:  # what is left of the parts while the final file is written
                seen.append(len([n for n in os.listdir(parts_dir) if n.startswith("part-")]))
                yield b

        return real(path, each() if "part-" not in path else batches, fmt_, schema, name)

    monkeypatch.setattr(writers, "_write_file", watch)
    score_files([str(d)], model=tiny_bundle, output=str(out), chunk_rows=8)
    assert seen[0] == 12 and seen[-1] == 1 and seen == sorted(seen, reverse=True), seen
    assert out.read_bytes() == ref.read_bytes()


def test_disk_full_while_assembling_with_little_disk_resumes(tiny_bundle, tmp_path, monkeypatch):
    d = _small_files(tmp_path / "in")
    ref, out = tmp_path / "ref.parquet", tmp_path / "out.parquet"
    score_files([str(d)], model=tiny_bundle, output=str(ref), chunk_rows=8)
    monkeypatch.setattr(writers.shutil, "disk_usage", lambda p: Usage(1 << 30, 1 << 30, 1 << 20))
    real = writers._write_file

    def full_at_fifth_batch(path, batches, fmt_, schema, name):
        def each():
            for i, b in enumerate(batches):
                if i == 4:
                    raise OSError(errno.ENOSPC, "No space left on device", path)
                yield b

        return real(path, each() if "part-" not in path else batches, fmt_, schema, name)

    monkeypatch.setattr(writers, "_write_file", full_at_fifth_batch)
    with pytest.raises(OutputError, match="No space left"):
        score_files([str(d)], model=tiny_bundle, output=str(out), chunk_rows=8)
    assert not out.exists()
    monkeypatch.setattr(writers, "_write_file", real)
    score_files([str(d)], model=tiny_bundle, output=str(out), chunk_rows=8, resume=True)
    assert pq.read_table(out).equals(pq.read_table(ref))

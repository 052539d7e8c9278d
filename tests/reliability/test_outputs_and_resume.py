"""Nothing lost, nothing stale: outputs never overwrite inputs, resume checks finished and
unfinished outputs, damaged parts and manifests are caught, output faults are one line."""

import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from sentiscore.cli import cli
from sentiscore.errors import OutputExistsError, ResumeError
from sentiscore.infer.files import score_files
from sentiscore.testing import sample_reviews

pytestmark = pytest.mark.light


def _write(path, n=40, seed=0):
    rows = sample_reviews(n, seed=seed)
    pq.write_table(pa.table({"id": list(range(n)), "text": [t for t, _ in rows]}), path)
    return str(path)


def _interrupt_after(monkeypatch, parts: int):
    """Make the next run stop (as Ctrl-C does) after ``parts`` parts are scored."""
    from sentiscore.infer.scorer import Scorer

    real, calls = Scorer.finish, []

    def finish(self, prep, *rest):
        calls.append(1)
        if len(calls) > parts:
            raise KeyboardInterrupt
        return real(self, prep, *rest)

    monkeypatch.setattr(Scorer, "finish", finish)
    return lambda: monkeypatch.setattr(Scorer, "finish", real)


def _score(src, out, bundle, **kw):
    return score_files([src], model=bundle, output=str(out), chunk_rows=10, **kw)


def _interrupted_with_reference(bundle, tmp_path, monkeypatch, parts: int):
    """60 rows scored whole into ref.parquet, and into o.parquet interrupted after ``parts``
    parts of 10 rows."""
    src = _write(tmp_path / "in.parquet", 60)
    ref = tmp_path / "ref.parquet"
    _score(src, ref, bundle)
    out = tmp_path / "o.parquet"
    restore = _interrupt_after(monkeypatch, parts)
    with pytest.raises(Exception, match="Interrupted"):
        _score(src, out, bundle)
    restore()
    return src, ref, out


def test_output_that_is_an_input_is_refused_and_the_input_kept(tiny_bundle, tmp_path):
    src = _write(tmp_path / "s.parquet")
    before = (tmp_path / "s.parquet").read_bytes()
    r = CliRunner().invoke(cli, ["score", src, "-m", tiny_bundle, "-o", src, "--overwrite"])
    assert r.exit_code == 1 and "not one of the inputs" in r.output
    assert (tmp_path / "s.parquet").read_bytes() == before
    link = tmp_path / "link.parquet"
    os.symlink(src, link)
    with pytest.raises(OutputExistsError):
        score_files([src], model=tiny_bundle, output=str(link), overwrite=True)
    assert (tmp_path / "s.parquet").read_bytes() == before


def test_resume_checks_a_finished_output(tiny_bundle, tmp_path):
    src = _write(tmp_path / "in.parquet")
    out = tmp_path / "o.parquet"
    _score(src, out, tiny_bundle)
    assert _score(src, out, tiny_bundle, resume=True)["rows"] == 0  # same run: nothing to do
    with pytest.raises(ResumeError, match="--max-length"):
        _score(src, out, tiny_bundle, resume=True, max_length=16)
    _write(tmp_path / "in.parquet", seed=5)  # the input changed
    with pytest.raises(ResumeError, match="input files"):
        _score(src, out, tiny_bundle, resume=True)
    csv_out = tmp_path / "o.csv"
    _score(src, csv_out, tiny_bundle)
    with pytest.raises(ResumeError, match="only Parquet outputs"):
        _score(src, csv_out, tiny_bundle, resume=True)


@pytest.mark.parametrize("content", [b"", b"{not json", b"[1, 2]"])
def test_damaged_manifest_is_a_clear_error(tiny_bundle, tmp_path, monkeypatch, content):
    src = _write(tmp_path / "in.parquet")
    out = tmp_path / "o.parquet"
    _interrupt_after(monkeypatch, 2)
    r = CliRunner().invoke(cli, ["score", src, "-m", tiny_bundle, "-o", str(out), "--chunk-rows", "10"])  # fmt: skip
    assert r.exit_code == 130
    (tmp_path / "o.parquet.parts" / "manifest.json").write_bytes(content)
    r = CliRunner().invoke(cli, ["score", src, "-m", tiny_bundle, "-o", str(out), "--resume"])
    assert r.exit_code == 1 and r.output.startswith("Error:") and "--overwrite" in r.output
    assert "Traceback" not in r.output


def test_damaged_foreign_and_stray_parts_are_scored_again(tiny_bundle, tmp_path, monkeypatch):
    src, ref, out = _interrupted_with_reference(tiny_bundle, tmp_path, monkeypatch, 3)
    parts = tmp_path / "o.parquet.parts"
    p1, p2 = parts / "part-000001.parquet", parts / "part-000002.parquet"
    p1.write_bytes(p1.read_bytes()[:-20])  # truncated
    other = _write(tmp_path / "other.parquet", 10, seed=9)
    _score(other, tmp_path / "x.parquet", tiny_bundle)
    p2.write_bytes((tmp_path / "x.parquet").read_bytes())  # foreign rows
    (parts / "part-000005.parquet").write_bytes(p2.read_bytes())  # stray extra part
    (parts / "part-000003.parquet.tmp-999999").write_bytes(b"half")  # left by a kill
    stats = _score(src, out, tiny_bundle, resume=True)
    assert stats["rows"] == 60 - 10  # part 0 was intact and kept
    got = pq.read_table(out)
    assert got.column("id").to_pylist() == list(range(60))
    assert got.column("prob_positive").equals(pq.read_table(ref).column("prob_positive"))


def test_limit_over_two_inputs_survives_a_resume(tiny_bundle, tmp_path, monkeypatch):
    a, b = _write(tmp_path / "a.parquet", 30), _write(tmp_path / "b.parquet", 30, seed=1)
    outdir = tmp_path / "out"
    os.makedirs(outdir)
    args = dict(model=tiny_bundle, output=str(outdir) + "/", chunk_rows=10, limit=45)
    restore = _interrupt_after(monkeypatch, 4)  # a done (3 parts), b stopped after one part
    with pytest.raises(Exception, match="Interrupted"):
        score_files([a, b], **args)
    restore()
    score_files([a, b], resume=True, **args)
    rows = [pq.read_table(outdir / f"{n}.scored.parquet").num_rows for n in "ab"]
    assert rows == [30, 15]


def test_orphan_temporary_files_are_removed(tiny_bundle, tmp_path):
    src = _write(tmp_path / "in.parquet")
    orphan = tmp_path / "o.parquet.tmp-999999"
    orphan.write_bytes(b"half a file")
    _score(src, tmp_path / "o.parquet", tiny_bundle)
    assert not orphan.exists() and pq.read_table(tmp_path / "o.parquet").num_rows == 40


@pytest.mark.parametrize("where", ["file_parent", "proc"])
def test_unwritable_output_is_one_line(tiny_bundle, tmp_path, where):
    src = _write(tmp_path / "in.parquet")
    (tmp_path / "afile").write_text("x")
    out = str(tmp_path / "afile" / "o.parquet") if where == "file_parent" else "/proc/o.parquet"
    r = CliRunner().invoke(cli, ["score", src, "-m", tiny_bundle, "-o", out])
    assert r.exit_code == 1 and r.output.startswith("Error: A writable output")
    assert len(r.output.strip().splitlines()) == 1 and not os.path.exists(out)


@pytest.mark.parametrize(
    "code,message",
    [
        ("ENOSPC", "No space left on device"),
        ("EROFS", "Read-only file system"),
        ("EACCES", "Permission denied"),
    ],
)
def test_write_faults_while_writing_parts_are_one_line(
    tiny_bundle, tmp_path, monkeypatch, code, message
):
    import errno

    from sentiscore.io import writers

    src = _write(tmp_path / "in.parquet")
    real = writers._write_file

    def full(path, *a, **kw):  # the file system fails on the third part (as root, for real)
        if "part-000002" in path:
            raise OSError(getattr(errno, code), message, path)
        return real(path, *a, **kw)

    monkeypatch.setattr(writers, "_write_file", full)
    out = tmp_path / "o.parquet"
    r = CliRunner().invoke(cli, ["score", src, "-m", tiny_bundle, "-o", str(out), "--chunk-rows", "10"])  # fmt: skip
    assert r.exit_code == 1 and r.output.strip().splitlines()[-1].startswith("Error:")
    assert message in r.output
    assert not out.exists()  # never a complete-looking output
    monkeypatch.setattr(writers, "_write_file", real)
    again = CliRunner().invoke(cli, ["score", src, "-m", tiny_bundle, "-o", str(out), "--chunk-rows", "10", "--resume"])  # fmt: skip
    assert again.exit_code == 0 and pq.read_table(out).num_rows == 40


def test_duplicate_column_names_are_one_line(tiny_bundle, tmp_path):
    src = tmp_path / "dup.csv"
    src.write_text("text,text\nGood,Bad\n")
    r = CliRunner().invoke(cli, ["score", str(src), "-m", tiny_bundle, "-o", "-"])
    assert r.exit_code == 1 and "['text'] more than once" in r.output


def test_special_tokens_typed_in_a_review_are_text(tiny_bundle):
    from sentiscore.infer.bundle import load_bundle
    from sentiscore.infer.tokenize import TextEncoder

    b = load_bundle(tiny_bundle)
    enc = TextEncoder(b.tokenizer_path, 32)
    typed, plain = enc.encode(["good [SEP] [CLS] film", "good film"])
    sep, cls = plain[-1], plain[0]
    assert list(typed).count(sep) == 1 and list(typed).count(cls) == 1
    assert len(typed) > len(plain) + 2


def test_parts_follow_the_scoring_rate_and_resume_accepts_other_chunk_rows(
    tiny_bundle, tmp_path, monkeypatch
):
    from sentiscore.infer import chunking as files

    sizer = files.PartSizer(20_000)
    assert sizer.max_bytes() == files.FIRST_PART_BYTES  # the first parts: by input size
    sizer.record(1000, 20.0)  # 50 rows/s: IMDB-length reviews on a small CPU
    assert sizer() == 50 * files.PART_SECONDS
    assert sizer.max_bytes() == files.MAX_CHUNK_BYTES
    sizer.record(10_000, 1.0)
    assert sizer() == 20_000  # never above --chunk-rows
    src, ref, out = _interrupted_with_reference(tiny_bundle, tmp_path, monkeypatch, 2)
    score_files([src], model=tiny_bundle, output=str(out), chunk_rows=7, resume=True)
    assert pq.read_table(out).equals(pq.read_table(ref))


def test_progress_moves_within_a_part(tiny_bundle, tmp_path):
    src = _write(tmp_path / "in.parquet", 60)
    seen = []
    score_files([src], model=tiny_bundle, output=str(tmp_path / "o.parquet"), max_tokens=64,
                progress=seen.append)  # fmt: skip
    assert sum(seen) == 60 and len([n for n in seen if n]) > 3  # one part, many updates


def test_huge_rows_make_small_chunks(tiny_bundle, tmp_path, monkeypatch):
    from sentiscore.infer import chunking as files
    from sentiscore.io import readers

    monkeypatch.setattr(files, "MAX_CHUNK_BYTES", 200_000)
    monkeypatch.setattr(readers, "BATCH_BYTES", 100_000)
    text = "a fine film " * 10_000  # 120 kB per row
    src = tmp_path / "big.parquet"
    pq.write_table(pa.table({"text": [f"{i} {text}" for i in range(12)]}), src)
    batches = list(readers.iter_batches(readers.discover_inputs([str(src)])[0]))
    assert max(b.num_rows for b in batches) == 1
    chunks = list(files.chunks(readers.discover_inputs([str(src)]), 1000, None))
    assert [c.num_rows for _, _, c in chunks] == [2] * 6


def test_first_parts_are_cut_by_input_size(tmp_path):
    from sentiscore.infer import chunking as files
    from sentiscore.io import readers

    src = tmp_path / "in.parquet"
    pq.write_table(pa.table({"text": [f"{i:04d} " + "x" * 995 for i in range(1000)]}), src)
    sizer = files.PartSizer(20_000)
    parts = files.chunks(readers.discover_inputs([str(src)]), sizer, None, 0, 0, (None, None),
                         lambda: 100_000)  # fmt: skip
    rows = [c.num_rows for _, _, c in parts]
    assert sum(rows) == 1000 and max(rows) <= 100 and min(rows[:-1]) >= 90


def test_the_inputs_last_rows_join_the_last_part(tmp_path):
    """A small remainder is not a part of its own (it would run in small micro-batches): the
    last part takes up to TAIL_SHARE more input instead."""
    from sentiscore.infer import chunking as files
    from sentiscore.io import readers

    src = tmp_path / "in.parquet"
    pq.write_table(pa.table({"text": [f"{i:04d} " + "x" * 995 for i in range(1040)]}), src)
    parts = files.chunks(readers.discover_inputs([str(src)]), 20_000, None, 0, 0, (None, None),
                         lambda: 100_000)  # fmt: skip
    rows = [c.num_rows for _, _, c in parts]
    assert sum(rows) == 1040 and min(rows) >= 90
    assert 130 <= rows[-1] <= (1 + files.TAIL_SHARE) * 100
    texts = [t for _, _, c in files.chunks(readers.discover_inputs([str(src)]), 20_000, None,
             0, 0, (None, None), lambda: 100_000) for t in c.column("text").to_pylist()]  # fmt: skip
    assert [int(t[:4]) for t in texts] == list(range(1040))  # every row once, in order

"""Paths that point back at the inputs: a --stats-json or an output that is an input, an
output directory inside the input directory (also on --resume), and FIFOs, which are refused
or skipped instead of hanging."""

import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from sentiscore.cli import cli
from sentiscore.testing import sample_reviews

pytestmark = pytest.mark.light


def _src(path, n=40):
    pq.write_table(
        pa.table({"id": list(range(n)), "text": [t for t, _ in sample_reviews(n)]}), path
    )
    return path


def _score(*args):
    return CliRunner().invoke(cli, ["score", *map(str, args), "--silent"])


def test_stats_json_pointing_at_an_input_or_the_output_is_refused(tiny_bundle, tmp_path):
    src = _src(tmp_path / "in.parquet")
    before = src.read_bytes()
    r = _score(src, "-m", tiny_bundle, "-o", tmp_path / "o.parquet", "--stats-json", src)
    assert r.exit_code == 1 and "--stats-json" in r.output and "is the input" in r.output
    assert src.read_bytes() == before and not (tmp_path / "o.parquet").exists()
    out = tmp_path / "o.parquet"
    r = _score(src, "-m", tiny_bundle, "-o", out, "--stats-json", out)
    assert r.exit_code == 1 and "is the output" in r.output
    r = _score(src, "-m", tiny_bundle, "-o", "-", "--stats-json", src)  # stdout too
    assert r.exit_code == 1 and src.read_bytes() == before


def test_an_unfinished_output_inside_the_input_directory_is_not_read_as_input(
    tiny_bundle, tmp_path, monkeypatch
):
    """The parts directory of an interrupted run (parts, ledger, manifest.json) inside the
    input directory is skipped by the listing, so --resume reads only the real input."""
    from sentiscore.infer.scorer import Scorer
    from sentiscore.io.readers import discover_inputs

    indir = tmp_path / "in"
    indir.mkdir()
    _src(indir / "a.parquet", 300)
    out = indir / "out.parquet"
    real, calls = Scorer.finish, []

    def interrupted(self, *args, **kwargs):  # Ctrl-C while the second part is scored
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Scorer, "finish", interrupted)
    r = _score(indir, "-m", tiny_bundle, "-o", out, "--chunk-rows", "100")
    assert r.exit_code == 130 and (indir / "out.parquet.parts" / "manifest.json").exists()
    monkeypatch.setattr(Scorer, "finish", real)
    assert [os.path.basename(i.path) for i in discover_inputs([str(indir)])] == ["a.parquet"]
    r = _score(indir, "-m", tiny_bundle, "-o", out, "--chunk-rows", "100", "--resume")
    assert r.exit_code == 0, r.output
    assert pq.read_table(out).column("id").to_pylist() == list(range(300))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_fifos_are_refused_or_skipped_not_waited_on(tiny_bundle, tmp_path):
    indir = tmp_path / "in"
    indir.mkdir()
    _src(indir / "a.parquet")
    os.mkfifo(indir / "b.csv")  # nobody ever writes to it: reading it would hang
    r = _score(indir, "-m", tiny_bundle, "-o", tmp_path / "o.parquet")
    assert r.exit_code == 0, r.output
    assert pq.read_table(tmp_path / "o.parquet").num_rows == 40
    r = _score(indir / "b.csv", "-m", tiny_bundle, "-o", tmp_path / "o2.parquet")
    assert r.exit_code == 1 and "is a pipe, socket or device" in r.output
    assert "Traceback" not in r.output

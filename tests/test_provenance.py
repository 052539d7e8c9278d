"""--source-column and --row-number-column: every output row names its input file and its
0-based row there, on every engine, through resume and stdin, so outputs join back to inputs
even with --keep-columns none."""

import os

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from sentiscore.cli import cli
from sentiscore.testing import sample_reviews

pytestmark = pytest.mark.light
TAGS = ["--source-column", "src", "--row-number-column", "row"]


def _inputs(tmp_path, n=150):
    d = tmp_path / "in"
    d.mkdir()
    texts = [t for t, _ in sample_reviews(2 * n)]
    pq.write_table(pa.table({"text": texts[:n]}), d / "a.parquet", row_group_size=40)
    pacsv.write_csv(pa.table({"text": texts[n:]}), d / "b.csv")
    return d, texts


def _run(*args):
    return CliRunner().invoke(cli, ["score", *map(str, args), "--silent"])


def test_rows_name_their_file_and_position(tiny_bundle, tmp_path, monkeypatch):
    from sentiscore.infer.scorer import Scorer

    d, texts = _inputs(tmp_path)
    out = tmp_path / "o.parquet"
    r = _run(d, "-m", tiny_bundle, "-o", out, "--keep-columns", "none", *TAGS)
    assert r.exit_code == 0, r.output
    got = pq.read_table(out)
    assert got.schema.names[:2] == ["src", "row"] and "text" not in got.schema.names
    want_src = [f"{d}/a.parquet"] * 150 + [f"{d}/b.csv"] * 150
    assert got.column("src").to_pylist() == want_src
    assert got.column("row").to_pylist() == list(range(150)) * 2
    real, calls = Scorer.finish, []

    def interrupted(self, *a, **k):  # Ctrl-C during the second part: resume goes on
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, *a, **k)

    resumed = tmp_path / "r.parquet"
    with monkeypatch.context() as m:
        m.setattr(Scorer, "finish", interrupted)
        args = (d, "-m", tiny_bundle, "-o", resumed, "--keep-columns", "none", *TAGS)
        assert _run(*args, "--chunk-rows", "50").exit_code == 130
    assert _run(*args, "--chunk-rows", "50", "--resume").exit_code == 0
    again = pq.read_table(resumed)
    assert again.select(["src", "row"]).equals(got.select(["src", "row"]))
    assert again.column("prob_positive").equals(got.column("prob_positive"))


def test_names_that_clash_are_refused_and_stdin_is_named(tiny_bundle, tmp_path):
    d, _ = _inputs(tmp_path)
    r = _run(d, "-m", tiny_bundle, "-o", tmp_path / "x.parquet", "--source-column", "text")
    assert r.exit_code == 1 and "already has a column 'text'" in r.output
    r = _run(
        d, "-m", tiny_bundle, "-o", tmp_path / "x.parquet", *TAGS[:2], "--row-number-column", "src"
    )
    assert r.exit_code == 1 and "distinct" in r.output
    piped = CliRunner().invoke(
        cli, ["score", "-", "-m", tiny_bundle, "--silent", *TAGS], input="text\ngood\nbad\n"
    )
    assert piped.exit_code == 0, piped.output
    assert '"<stdin>",0,' in piped.stdout and '"<stdin>",1,' in piped.stdout


@pytest.mark.parametrize("engine", ["spark", "ray"])
def test_engines_give_the_same_provenance(tiny_bundle, tmp_path, engine, monkeypatch):
    pytest.importorskip("pyspark" if engine == "spark" else "ray")
    import sys

    monkeypatch.setenv("PYSPARK_PYTHON", sys.executable)
    d, _ = _inputs(tmp_path)
    local = tmp_path / "local.parquet"
    assert _run(d, "-m", tiny_bundle, "-o", local, *TAGS).exit_code == 0
    out = tmp_path / engine
    try:
        r = _run(d, "-m", tiny_bundle, "-o", out, "--engine", engine, "--workers", "2", *TAGS)
    finally:
        if engine == "ray":
            import ray

            ray.shutdown()
    assert r.exit_code == 0, r.output
    names = sorted(n for n in os.listdir(out) if n.endswith(".parquet"))
    assert len(names) > 2  # the files were divided between splits
    got = pa.concat_tables([pq.read_table(out / n) for n in names])
    want = pq.read_table(local)
    assert got.select(["src", "row", "text"]).equals(want.select(["src", "row", "text"]))

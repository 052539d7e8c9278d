"""Scorer.score_df: pandas (index kept), polars and pyarrow frames come back as the same kind
of frame with the prediction columns, scoring exactly like score_batch; DuckDB scores a table
through an Arrow UDF as docs/scoring.md shows."""

import pyarrow as pa
import pytest

from sentiscore.errors import ConfigError
from sentiscore.infer.scorer import Scorer
from sentiscore.testing import sample_reviews

pytestmark = pytest.mark.light


@pytest.fixture(scope="module")
def scorer(tiny_bundle):
    return Scorer.load(tiny_bundle)


def _rows(n=40):
    texts = [t for t, _ in sample_reviews(n)]
    texts[3] = None  # a bad row keeps its place, with an error
    return {"id": list(range(n)), "text": texts}


def test_pandas_polars_and_arrow_frames(scorer):
    pd = pytest.importorskip("pandas")
    pl = pytest.importorskip("polars")
    want = scorer.score_batch(pa.record_batch(_rows()))
    df = pd.DataFrame(_rows(), index=[f"r{i}" for i in range(40)])
    got = scorer.score_df(df)
    assert isinstance(got, pd.DataFrame) and list(got.index) == list(df.index)
    assert got["prob_positive"].tolist()[:3] == want.column("prob_positive").to_pylist()[:3]
    assert got["error"].iloc[3] == "text is null"
    polar = scorer.score_df(pl.DataFrame(_rows()), keep_columns="id")
    assert isinstance(polar, pl.DataFrame) and polar.columns[0] == "id"
    assert polar["prob_positive"].to_list()[5] == want.column("prob_positive")[5].as_py()
    table = scorer.score_df(pa.table(_rows()), keep_columns="none")
    assert table.column("prob_positive").equals(pa.chunked_array([want.column("prob_positive")]))
    with pytest.raises(ConfigError, match="DataFrame"):
        scorer.score_df([{"text": "x"}])
    empty = scorer.score_df(pd.DataFrame({"text": pd.Series([], dtype=str)}))
    assert len(empty) == 0 and "label" in empty.columns


def test_duckdb_scores_a_table_through_an_arrow_udf(scorer, tmp_path):
    duckdb = pytest.importorskip("duckdb")
    import pyarrow.parquet as pq

    pq.write_table(pa.table(_rows()), tmp_path / "reviews.parquet")

    def p_positive(texts):
        scored = scorer.score_df(pa.table({"text": texts}), keep_columns="none")
        return scored.column("prob_positive").combine_chunks()

    con = duckdb.connect()
    con.create_function("p_positive", p_positive, ["VARCHAR"], "FLOAT", type="arrow")
    rows = con.sql(
        f"SELECT id, p_positive(text) AS p FROM '{tmp_path}/reviews.parquet' ORDER BY id"
    ).fetchall()
    want = scorer.score_batch(pa.record_batch(_rows())).column("prob_positive").to_pylist()
    assert [r[0] for r in rows] == list(range(40))
    assert [r[1] for r in rows] == pytest.approx([w if w is not None else None for w in want])

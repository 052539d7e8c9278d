"""The scorer in a data engineer's hands: pipes and formats, column detection, visible
truncation, evaluate in the scorer-only install, logs and messages for jobs. All torch-free."""

import csv
import io
import json
import os
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from sentiscore.cli import cli
from sentiscore.testing import sample_reviews

pytestmark = pytest.mark.light

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LONG = " ".join(["a wonderful and moving film"] * 20)  # > 32 tokens: the tiny bundle truncates


def _score(*args, input=None):
    return CliRunner().invoke(cli, ["score", *args], input=input)


def _texts(n=6):
    return [t for t, _ in sample_reviews(n, seed=1)]


def _csv_lines(out: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(out)))


# --- pipes and formats -------------------------------------------------------------------


def test_stdin_csv_streams_to_stdout(tiny_bundle):
    data = "id,text\n" + "".join(f'{i},"{t}"\n' for i, t in enumerate(_texts()))
    r = _score("-", "-m", tiny_bundle, "--silent", input=data)
    assert r.exit_code == 0, r.output
    rows = _csv_lines(r.stdout)
    assert rows[0][:3] == ["id", "text", "label"] and len(rows) == 7
    assert [row[0] for row in rows[1:]] == [str(i) for i in range(6)]


def test_errors_on_stdin_name_stdin(tiny_bundle):
    r = _score("-", "-m", tiny_bundle, input='id,text\n1,"Good.\n2,Bad.\n')  # quote never closed
    assert r.exit_code == 1 and "<stdin>" in r.output and "sentiscore-stdin" not in r.output


def test_stdin_jsonl_and_txt_with_input_format(tiny_bundle):
    texts = _texts()
    jsonl = "".join(json.dumps({"review": t}) + "\n" for t in texts)
    r = _score("-", "-m", tiny_bundle, "--input-format", "jsonl", "--format", "jsonl", input=jsonl)
    assert r.exit_code == 0, r.output
    out = [json.loads(line) for line in r.stdout.splitlines()]
    assert [o["review"] for o in out] == texts and all("label" in o for o in out)
    both = _score("-", "-m", tiny_bundle, "--format", "jsonl", input=jsonl)  # sets both ends
    assert both.exit_code == 0 and both.stdout == r.stdout
    txt = "one, two, three: commas are text\nsecond line\n"
    r = _score("-", "-m", tiny_bundle, "--input-format", "txt", input=txt)
    assert r.exit_code == 0, r.output
    rows = _csv_lines(r.stdout)
    assert [row[0] for row in rows[1:]] == ["one, two, three: commas are text", "second line"]


def test_stdout_stream_is_bounded_and_quits_quietly_on_a_closed_pipe(tiny_bundle, tmp_path):
    src = tmp_path / "many.parquet"
    pq.write_table(pa.table({"text": _texts(50) * 100}), src)
    cmd = [sys.executable, "-m", "sentiscore", "score", str(src), "-m", tiny_bundle, "-o", "-"]
    cmd += ["--silent"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    head = [proc.stdout.readline() for _ in range(3)]
    proc.stdout.close()  # like '| head -3'
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, err
    assert head[0].startswith(b'"text","label"') and "Traceback" not in err
    assert not list(tmp_path.glob("*.parts")) and not list(tmp_path.glob("*.scored*"))


def test_tsv_output_and_unknown_extension_refused(tiny_bundle, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("text\n" + "".join(f'"{t}"\n' for t in _texts()))
    r = _score(str(src), "-m", tiny_bundle, "-o", str(tmp_path / "o.tsv"), "--silent")
    assert r.exit_code == 0, r.output
    rows = list(csv.reader(io.StringIO((tmp_path / "o.tsv").read_text()), delimiter="\t"))
    assert rows[0][:2] == ["text", "label"] and len(rows) == 7
    r = _score(str(src), "-m", tiny_bundle, "-o", str(tmp_path / "o.xlsx"))
    assert r.exit_code == 1 and "xlsx" in r.output and "tsv" in r.output
    assert not (tmp_path / "o.xlsx").exists()
    r = _score(str(src), "-m", tiny_bundle, "-o", "-", "--format", "tsv", "--silent")
    assert r.exit_code == 0 and r.stdout.splitlines()[0].startswith('"text"\t"label"')


def test_txt_input_is_one_text_per_line(tiny_bundle, tmp_path):
    src = tmp_path / "reviews.txt"
    src.write_text("text\nGreat, really great.\n\nAwful; never again.\n")
    r = _score(str(src), "-m", tiny_bundle, "--silent")
    assert r.exit_code == 0, r.output
    out = pq.read_table(tmp_path / "reviews.scored.parquet")
    assert out.column("text").to_pylist() == [
        "text",
        "Great, really great.",
        "",
        "Awful; never again.",
    ]
    assert out.column("error").to_pylist()[2] is not None  # the empty line is an error row


def test_semicolon_csv_is_sniffed_and_a_bad_delimiter_suggests_the_option(tiny_bundle, tmp_path):
    src = tmp_path / "semi.csv"
    src.write_text("id;text\n1;Great film, loved it\n2;Dull\n")
    r = _score(str(src), "-m", tiny_bundle, "-o", "-", "--silent")
    assert r.exit_code == 0, r.output
    assert [row[:2] for row in _csv_lines(r.stdout)[1:]] == [
        ["1", "Great film, loved it"],
        ["2", "Dull"],
    ]
    bad = tmp_path / "bad.csv"
    bad.write_text("id|text\n1|fine, really\n2|a, b, c\n")
    r = _score(str(bad), "-m", tiny_bundle, "--text-column", "text", "-o", "-")
    assert r.exit_code == 1 and "--delimiter" in r.output


# --- columns and labels ----------------------------------------------------------------


def test_text_column_detected_and_logged(tiny_bundle, tmp_path):
    src = tmp_path / "r.parquet"
    pq.write_table(pa.table({"stars": [1, 5], "Review": ["Bad.", "Good."]}), src)
    r = _score(str(src), "-m", tiny_bundle, "-o", "-", "--silent", "-v")
    assert r.exit_code == 0, r.output
    assert "text column: 'Review'" in r.stderr
    none = tmp_path / "none.parquet"
    pq.write_table(pa.table({"review_id": ["R1"], "stars": [1], "words": ["Bad."]}), none)
    r = _score(str(none), "-m", tiny_bundle)
    assert r.exit_code == 1 and "--text-column" in r.output and "e.g. one of ['words']" in r.output
    amazon = tmp_path / "amazon.parquet"  # Amazon's own column names
    pq.write_table(pa.table({"review_id": ["R1"], "review_body": ["Bad."]}), amazon)
    r = _score(str(amazon), "-m", tiny_bundle, "-o", "-", "--silent", "-v")
    assert r.exit_code == 0 and "text column: 'review_body'" in r.stderr


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_numeric_text_column_refused_before_scoring(tiny_bundle, tmp_path, fmt):
    src = tmp_path / f"n.{fmt}"
    table = pa.table({"stars": [1, 5], "text": ["Bad.", "Good."]})
    if fmt == "csv":  # a CSV's star ratings are numbers too, not texts "1" and "5"
        src.write_text("stars,text\n1,Bad.\n5,Good.\n")
    else:
        pq.write_table(table, src)
    r = _score(str(src), "-m", tiny_bundle, "--text-column", "stars")
    assert r.exit_code == 1 and "stars" in r.output and "int64" in r.output
    assert "e.g. one of ['text']" in r.output
    assert not list(tmp_path.glob("n.scored.*"))
    mixed = tmp_path / "m.csv"  # a text column that holds a number in some rows stays text
    mixed.write_text("review\n5\nGreat blender\n")
    ok = _score(str(mixed), "-m", tiny_bundle, "--text-column", "review", "-o", "-", "--silent")
    assert ok.exit_code == 0 and [r[0] for r in _csv_lines(ok.stdout)] == [
        "review",
        "5",
        "Great blender",
    ]


def test_min_score_abstains_and_keeps_probabilities(tiny_bundle, tmp_path):
    src = tmp_path / "r.parquet"
    pq.write_table(pa.table({"text": _texts(6) + [None]}), src)
    plain, out = tmp_path / "plain.parquet", tmp_path / "out.parquet"
    assert _score(str(src), "-m", tiny_bundle, "-o", str(plain)).exit_code == 0
    base = pq.read_table(plain).to_pylist()
    cut = sorted(r["score"] for r in base[:6])[3]  # about half the rows fall below it
    r = _score(str(src), "-m", tiny_bundle, "-o", str(out), "--min-score", str(cut))
    assert r.exit_code == 0, r.output
    for a, b in zip(base, pq.read_table(out).to_pylist()):
        assert a["score"] == b["score"] and a["prob_positive"] == b["prob_positive"]
        if a["error"] is None:
            sure = a["score"] >= cut
            assert (b["label"], b["label_id"]) == (
                (a["label"], a["label_id"]) if sure else (None, None)
            )
            assert b["error"] is None  # abstaining is not an error
    assert sum(b["label"] is None for b in pq.read_table(out).to_pylist()[:6]) >= 3
    bad = _score(str(src), "-m", tiny_bundle, "-o", str(tmp_path / "x.parquet"), "--min-score", "2")
    assert bad.exit_code == 1 and "--min-score between 0 and 1" in bad.output


def test_predict_takes_one_string_as_one_text(tiny_bundle):
    from sentiscore.infer.scorer import Scorer

    scorer = Scorer.load(tiny_bundle, device="cpu")
    one = scorer.predict("a wonderful film")
    assert len(one) == 1 and one == scorer.predict(["a wonderful film"])


def test_max_error_rate(tiny_bundle, tmp_path):
    src = tmp_path / "e.parquet"
    pq.write_table(pa.table({"text": ["Good.", None, "", "Bad."]}), src)
    over = _score(str(src), "-m", tiny_bundle, "--max-error-rate", "0.25", "--silent")
    assert over.exit_code == 1 and "2 of 4" in over.output
    out = pq.read_table(tmp_path / "e.scored.parquet")  # the rows are still all written
    assert out.num_rows == 4
    ok = _score(str(src), "-m", tiny_bundle, "--max-error-rate", "0.5", "--overwrite", "--silent")
    assert ok.exit_code == 0, ok.output


# --- truncation is visible ---------------------------------------------------------------


def test_truncated_rows_counted_warned_and_max_length(tiny_bundle, tmp_path):
    src = tmp_path / "long.parquet"
    pq.write_table(pa.table({"text": [LONG, LONG, "Short."]}), src)
    stats = tmp_path / "s.json"
    r = _score(str(src), "-m", tiny_bundle, "--stats-json", str(stats))
    assert r.exit_code == 0, r.output
    assert json.loads(stats.read_text())["truncated"] == 2
    assert "2 truncated" in r.stderr and "--max-length" not in r.stderr.split("truncated")[0]
    assert "WARNING" in r.stderr and "2 of 3 scored rows (67 %) were longer than 32" in r.stderr
    short = _score("-", "-m", tiny_bundle, "--max-length", "8", "--input-format", "txt",
                   "--stats-json", str(stats), input="one two three four five six seven eight nine ten\nok\n")  # fmt: skip
    assert short.exit_code == 0, short.output
    assert json.loads(stats.read_text())["truncated"] == 1
    r = _score(str(src), "-m", tiny_bundle, "--max-length", "64", "-o", "-")
    assert r.exit_code == 1 and "between 8 and" in r.output and "32" in r.output


# --- evaluate works where score works -----------------------------------------------------


def _labeled(path, labels):
    texts = ["A wonderful, moving film.", "Dull and far too long.", "Loved it.", "Awful."]
    pq.write_table(pa.table({"review": texts, "sentiment": labels}), path)
    return str(path)


def test_evaluate_without_matplotlib_writes_metrics(tiny_bundle, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    data = _labeled(tmp_path / "dev.parquet", [1, 0, 1, 0])
    out = tmp_path / "ev"
    r = CliRunner().invoke(cli, ["evaluate", tiny_bundle, data, "-o", str(out)])
    assert r.exit_code == 0, r.output
    rep = json.loads((out / "metrics.json").read_text())
    assert rep["metrics"]["n"] == 4 and rep["plots"] == []
    lines = [line for line in r.stderr.splitlines() if "plots skipped" in line]
    assert len(lines) == 1 and "pip install matplotlib" in lines[0]


def test_evaluate_help_states_the_default_output():
    r = CliRunner().invoke(cli, ["evaluate", "-h"])
    assert "./eval-<data stem> for 'default'" in " ".join(r.output.split())


def test_evaluate_maps_string_gold_labels(tiny_bundle, tmp_path):
    by_name = _labeled(tmp_path / "names.parquet", ["pos", "neg", "Positive", "NEG"])
    ids = _labeled(tmp_path / "ids.parquet", [1, 0, 1, 0])
    mapped = _labeled(tmp_path / "stars.parquet", ["5", "1", "5", "1"])
    reps = []
    for data, extra in ((by_name, []), (ids, []), (mapped, ["--label-map", "1=negative,5=1"])):
        out = tmp_path / f"ev-{len(reps)}"
        r = CliRunner().invoke(
            cli, ["evaluate", tiny_bundle, data, "-o", str(out), "--no-plots", *extra]
        )
        assert r.exit_code == 0, r.output
        reps.append(json.loads((out / "metrics.json").read_text())["metrics"])
    assert reps[0] == reps[1] == reps[2]
    odd = _labeled(tmp_path / "odd.parquet", ["meh", "neg", "pos", "neg"])
    r = CliRunner().invoke(cli, ["evaluate", tiny_bundle, odd, "--no-plots"])
    assert r.exit_code == 1 and "'meh'" in r.output and "--label-map" in r.output


def test_evaluate_maps_integer_star_ratings_with_ranges_and_drop(tiny_bundle, tmp_path):
    texts = ["A wonderful, moving film.", "Dull and far too long.", "Loved it.", "Awful.", "Fine."]
    stars = tmp_path / "stars.parquet"
    pq.write_table(pa.table({"review": texts, "stars": [5, 2, 4, 1, 3]}), stars)
    out = tmp_path / "ev"
    star_map = "1-2=negative,3=drop,4-5=positive"
    args = ["evaluate", tiny_bundle, str(stars), "-o", str(out), "--no-plots"]
    r = CliRunner().invoke(cli, [*args, "--label-column", "stars", "--label-map", star_map])
    assert r.exit_code == 0, r.output
    report = json.loads((out / "metrics.json").read_text())
    assert report["metrics"]["n"] == 4 and report["rows_dropped_by_label_map"] == 1
    ids = _labeled(tmp_path / "ids.parquet", [1, 0, 1, 0])  # the same rows with 0/1 gold
    r = CliRunner().invoke(cli, ["evaluate", tiny_bundle, ids, "-o", str(tmp_path / "e2")])
    assert r.exit_code == 0, r.output
    same = json.loads((tmp_path / "e2" / "metrics.json").read_text())["metrics"]
    assert same["accuracy"] == report["metrics"]["accuracy"]
    bad = CliRunner().invoke(cli, [*args, "--label-column", "stars", "--label-map", "5-1=x"])
    assert bad.exit_code == 1 and "LOW <= HIGH" in bad.output


# --- logs and messages for jobs ------------------------------------------------------------


def test_eta_is_estimated_by_tokens_not_rows():
    from sentiscore.cli.logs import TokenEta

    eta = TokenEta(total=100)
    eta.plan(10, 1000)  # the first chunk: 10 rows, 1,000 tokens; the clock starts here
    eta.start = 0.0
    eta.worked(2, 600)  # its two longest rows took 6 s: 100 tokens/s
    eta.rows = 2
    # 400 tokens left in the chunk + 90 unread rows x 100 tokens = 94 s (by rows: 294 s)
    assert eta.seconds_left(now=6.0) == pytest.approx(94.0)
    assert TokenEta(total=None).seconds_left(now=1.0) is None


def test_scorer_reports_every_token_to_a_token_aware_progress(tiny_bundle):
    from sentiscore.infer.scorer import Scorer

    class Seen:
        def __init__(self):
            self.planned, self.done, self.calls = [], [], 0

        def __call__(self, n):
            self.calls += 1

        def plan(self, rows, tokens):
            self.planned.append((rows, tokens))

        def worked(self, rows, tokens):
            self.done.append((rows, tokens))

    scorer = Scorer.load(tiny_bundle, device="cpu")
    ids = scorer.encoder.encode(_texts(6) + [LONG])
    seen = Seen()
    scorer.run_ids(ids, seen)
    total = sum(len(row) for row in ids)
    assert seen.planned == [(7, total)] and seen.calls == 0
    assert sum(r for r, _ in seen.done) == 7 and sum(t for _, t in seen.done) == total


def test_log_json_after_the_subcommand_makes_every_stderr_line_json(tiny_bundle, tmp_path):
    src = tmp_path / "j.parquet"
    pq.write_table(pa.table({"text": ["Good.", None, LONG]}), src)
    cmd = [sys.executable, "-m", "sentiscore", "score", str(src), "-m", tiny_bundle]
    done = subprocess.run([*cmd, "--log-json"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stderr.splitlines()]  # every line parses
    assert any(e.get("event") == "summary" for e in events)
    progress = [e for e in events if e.get("event") == "progress"]
    assert progress and progress[-1]["rows"] == 3 and progress[-1]["total"] == 3
    failed = subprocess.run(
        [*cmd, "--log-json", "--text-column", "nope"], capture_output=True, text=True, timeout=120
    )
    lines = [json.loads(line) for line in failed.stderr.splitlines()]
    assert failed.returncode == 1 and lines[-1]["level"] == "error"
    assert "nope" in lines[-1]["found"] + lines[-1]["expected"]


def _interrupted_run(tiny_bundle, tmp_path, monkeypatch):
    """A run over 30 rows in parts of 10, interrupted (Ctrl-C) while scoring the third part."""
    from sentiscore.infer.scorer import Scorer

    src = tmp_path / "in.parquet"
    pq.write_table(pa.table({"text": _texts(30)}), src)
    real, calls = Scorer.finish, []

    def finish(self, prep, *rest):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(self, prep, *rest)

    out = tmp_path / "o.parquet"
    with monkeypatch.context() as m:
        m.setattr(Scorer, "finish", finish)
        r = _score(str(src), "-m", tiny_bundle, "-o", str(out), "--chunk-rows", "10", "--silent")
    return src, out, r


def test_interrupt_says_what_is_saved_and_how_to_resume(tiny_bundle, tmp_path, monkeypatch):
    src, out, r = _interrupted_run(tiny_bundle, tmp_path, monkeypatch)
    assert r.exit_code == 130
    assert "20 scored rows are saved" in r.output and "--resume" in r.output
    again = _score(str(src), "-m", tiny_bundle, "-o", str(out), "--chunk-rows", "10", "--resume")
    assert again.exit_code == 0, again.output
    assert pq.read_table(out).num_rows == 30


def test_refused_resume_names_the_changed_option(tiny_bundle, tmp_path, monkeypatch):
    src, out, r = _interrupted_run(tiny_bundle, tmp_path, monkeypatch)
    assert r.exit_code == 130
    args = [str(src), "-m", tiny_bundle, "-o", str(out), "--chunk-rows", "10", "--resume"]
    refused = _score(*args, "--max-length", "16")
    assert refused.exit_code != 0 and "--max-length" in refused.output


def test_small_max_tokens_message_names_the_option(tiny_bundle, tmp_path):
    r = _score("-", "-m", tiny_bundle, "--max-tokens", "8", input="text\nfine\n")
    assert r.exit_code != 0 and "--max-tokens" in r.output and "chunk" not in r.output


def test_embedded_model_says_which_variant_it_ships():
    r = CliRunner().invoke(cli, ["predict", "--precision", "fp32", "Great film"])
    assert r.exit_code == 1 and "ships only int8-static" in r.output
    assert "re-export" not in r.output


def test_documented_pipe_examples_run_as_written(tmp_path):
    readme = open(os.path.join(ROOT, "docs", "scoring.md"), encoding="utf-8").read()
    block = readme.split("**Pipes.**", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    os.symlink(os.path.join(ROOT, "examples"), tmp_path / "examples")
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]}
    for line in block.strip().splitlines():
        done = subprocess.run(
            ["bash", "-o", "pipefail", "-c", line],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, (line, done.stderr)
        assert done.stdout or (tmp_path / "scored.csv").exists(), line
    assert len((tmp_path / "scored.csv").read_text().splitlines()) == 37  # header + 36 reviews


def test_evaluate_writes_its_mistakes_and_metrics_per_group(tiny_bundle, tmp_path):
    rows = [{"text": t, "label": y, "domain": ["books", "kitchen"][i % 2]}
            for i, (t, y) in enumerate(sample_reviews(60, seed=2))]  # fmt: skip
    src = tmp_path / "dev.parquet"
    pq.write_table(pa.Table.from_pylist(rows), src)
    out = tmp_path / "ev"
    args = ["evaluate", tiny_bundle, str(src), "--no-plots", "-o", str(out)]
    r = CliRunner().invoke(cli, [*args, "--group-column", "domain"])
    assert r.exit_code == 0, r.output
    assert "books: accuracy" in r.output and "kitchen: accuracy" in r.output
    rep = json.loads((out / "metrics.json").read_text())
    assert {g: m["n"] for g, m in rep["groups"].items()} == {"books": 30, "kitchen": 30}
    errors = pq.read_table(out / "errors.parquet")
    wrong = round((1 - rep["metrics"]["accuracy"]) * 60)
    assert errors.num_rows == rep["errors"] == wrong
    assert all(g != p for g, p in zip(errors["gold"].to_pylist(), errors["predicted"].to_pylist()))
    assert set(errors["group"].to_pylist()) <= {"books", "kitchen"}
    missing = CliRunner().invoke(cli, [*args, "--group-column", "category"])
    assert missing.exit_code == 1 and "category" in missing.output


def test_export_and_bench_read_texts_as_score_and_labels_as_evaluate(tmp_path):
    """One reader for sampled texts: the text column is detected (Amazon's review_body), empty
    texts are left out, and export's gold labels take the forms evaluate takes ('pos')."""
    from sentiscore.export.config import ExportConfig
    from sentiscore.export.parity import load_validation
    from sentiscore.infer.bench import BenchConfig, load_texts

    src = tmp_path / "amazon.parquet"
    table = {"review_id": ["r1", "r2", "r3"], "review_body": ["Great kettle.", " ", "Broke."]}
    pq.write_table(pa.table({**table, "sentiment": ["pos", "neg", "neg"]}), src)
    cfg = ExportConfig(validate_with=str(src), label_column="sentiment", samples=10)
    val = load_validation(cfg, {"negative": 0, "positive": 1})
    assert val.texts == ["Great kettle.", "Broke."] and val.labels.tolist() == [1, 0]
    texts, _ = load_texts(BenchConfig(data=(str(src),), rows=8))
    assert set(texts) == {"Great kettle.", "Broke."}
    with pytest.raises(Exception, match="--text-column"):
        load_texts(BenchConfig(data=(str(src),), rows=8, text_column="nope"))


def test_evaluate_of_several_files_reports_each_file_and_all(tiny_bundle, tmp_path):
    from sentiscore.infer.evaluate import EvaluateConfig, evaluate_bundle

    rows = sample_reviews(12, seed=3)
    paths = []
    for name, part in (("a.parquet", rows[:5]), ("b.parquet", rows[5:])):
        labels = ["positive" if y else "negative" for _, y in part]
        pq.write_table(pa.table({"text": [t for t, _ in part], "label": labels}), tmp_path / name)
        paths.append(str(tmp_path / name))
    rep = evaluate_bundle(
        EvaluateConfig(bundle=tiny_bundle, data=paths, output=str(tmp_path / "ev"), plots=False)
    )
    assert list(rep["groups"]) == paths and [g["n"] for g in rep["groups"].values()] == [5, 7]
    assert rep["metrics"]["n"] == 12

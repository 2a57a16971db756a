"""How the REST server holds up under load while it trains (issue 12: on 2 cores, at least 300
requests/s with p99 at most 100 ms and no errors).

Starts ``automl-video serve`` on loopback (with API keys), imports a tiny synthetic dataset, starts one
CreateModel (real training, in a worker process) and, while it trains, runs 16 concurrent clients doing
GetDataset / ListDatasets / GetOperation over keep-alive HTTP for a fixed time; prints requests/s, p50
and p99 latency and errors, for the SQLite registry and, given a URL, PostgreSQL.

    python benchmarks/server_load.py [--seconds 20] [--clients 16] [--postgres-url URL] [--json]

(``--postgres-url`` defaults to ``$AUTOML_VIDEO_TEST_POSTGRES_URL``; ``.ci/start-postgres.sh`` prints one.)
Run it under ``flock /tmp/automl-video-benchmark.lock``.
"""

import argparse
import contextlib
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass

import sqlalchemy as sa

from automl_video.tasks.classification import synth

KEY = "k-bench"
PROJECT = "bench"
PARENT = f"/v1beta1/projects/{PROJECT}/locations/us-central1"


@dataclass
class LoadResult:
    registry: str
    clients: int
    seconds: float
    requests: int
    errors: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    training_running: bool


class Server:
    def __init__(self, root: str, registry_url: str, allowed: str):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        keys = os.path.join(root, "keys.json")
        with open(keys, "w") as f:
            json.dump({KEY: [PROJECT]}, f)
        self.log = open(os.path.join(root, "server.log"), "wb")
        command = [sys.executable, "-m", "automl_video", "serve", "--port", str(self.port)]
        command += ["--workspace", os.path.join(root, "workspace"), "--registry", registry_url]
        command += ["--allowed-root", root, "--allowed-root", allowed, "--api-keys", keys]
        command += ["--train-budget-minutes", "30"]
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                if self.request("GET", "/healthz")[0] == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError("the server did not start")

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            payload = json.dumps(body) if body is not None else None
            connection.request(method, path, body=payload, headers={"x-goog-api-key": KEY})
            response = connection.getresponse()
            return response.status, json.loads(response.read() or b"{}")
        finally:
            connection.close()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)
        self.log.close()


def wait_done(server: Server, operation: str, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _, doc = server.request("GET", f"/v1beta1/{operation}")
        if doc.get("done"):
            return doc
        time.sleep(0.5)
    raise RuntimeError(f"{operation} did not finish")


def client_loop(port: int, paths: list[str], stop_at: float, latencies: list[float], errors: list[str]) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    index = 0
    while time.monotonic() < stop_at:
        path = paths[index % len(paths)]
        index += 1
        started = time.perf_counter()
        try:
            connection.request("GET", path, headers={"x-goog-api-key": KEY})
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                errors.append(f"{path}: {response.status}")
        except (OSError, http.client.HTTPException) as e:
            errors.append(f"{path}: {e}")
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        latencies.append(time.perf_counter() - started)
    connection.close()


def run(registry: str, registry_url: str, seconds: float, clients: int, videos: synth.SynthResult) -> LoadResult:
    with tempfile.TemporaryDirectory(prefix="automl-video-server-load-") as root:
        server = Server(root, registry_url, os.path.dirname(videos.import_csv))
        try:
            datasets = []
            for index in range(5):
                body = {"displayName": f"bench{index}", "videoClassificationDatasetMetadata": {}}
                datasets.append(server.request("POST", f"{PARENT}/datasets", body)[1]["name"])
            _, imported = server.request(
                "POST",
                f"/v1beta1/{datasets[0]}:importData",
                {"inputConfig": {"gcsSource": {"inputUris": [videos.import_csv]}}},
            )
            wait_done(server, imported["name"])
            body = {
                "displayName": "bench_model",
                "datasetId": datasets[0].rsplit("/", 1)[1],
                "videoClassificationModelMetadata": {},
            }
            _, training = server.request("POST", f"{PARENT}/models", body)
            time.sleep(10)  # let the worker load TensorFlow and start its epochs
            paths = [f"/v1beta1/{d}" for d in datasets] + [
                f"{PARENT}/datasets?pageSize=3",
                f"/v1beta1/{training['name']}",
            ]
            latencies: list[float] = []
            errors: list[str] = []
            stop_at = time.monotonic() + seconds
            threads = [
                threading.Thread(target=client_loop, args=(server.port, paths, stop_at, latencies, errors))
                for _ in range(clients)
            ]
            started = time.monotonic()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.monotonic() - started
            still_training = not server.request("GET", f"/v1beta1/{training['name']}")[1].get("done", False)
        finally:
            server.stop()
    ordered = sorted(latencies)
    return LoadResult(
        registry=registry,
        clients=clients,
        seconds=round(elapsed, 2),
        requests=len(latencies),
        errors=len(errors),
        requests_per_second=round(len(latencies) / elapsed, 1),
        p50_ms=round(1000 * statistics.median(ordered), 1),
        p99_ms=round(1000 * ordered[int(0.99 * (len(ordered) - 1))], 1),
        training_running=still_training,
    )


def fresh_postgres_database(url: str) -> str:
    """A new database on the server at ``url`` (so runs never see each other's resources)."""
    name = f"automl_video_bench_{os.getpid()}_{int(time.time())}"
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return str(sa.make_url(url).set(database=name).render_as_string(hide_password=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--postgres-url", default=os.environ.get("AUTOML_VIDEO_TEST_POSTGRES_URL"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="automl-video-server-load-videos-") as videos_dir:
        videos = synth.generate(videos_dir, classes=2, videos_per_class=6, seconds=2.0, width=64, height=64, fps=10)
        results = []
        with tempfile.TemporaryDirectory() as sqlite_dir:
            results.append(run("sqlite", f"sqlite:///{sqlite_dir}/registry.sqlite", args.seconds, args.clients, videos))
        if args.postgres_url:
            url = fresh_postgres_database(args.postgres_url)
            results.append(run("postgresql", url, args.seconds, args.clients, videos))
    if args.json:
        print(json.dumps([asdict(r) for r in results], indent=2))
        return
    print(f"{'registry':<11} {'clients':>7} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}  training")
    for r in results:
        print(
            f"{r.registry:<11} {r.clients:>7} {r.requests_per_second:>8.1f} {r.p50_ms:>7.1f} {r.p99_ms:>7.1f} "
            f"{r.errors:>6}  {'running' if r.training_running else 'ENDED during the run'}"
        )
    print(f"cores: {os.cpu_count()}; goal on 2 cores: >= 300 req/s, p99 <= 100 ms, 0 errors")


if __name__ == "__main__":
    main()

"""What a run with every task in its image mounts, and the Docker API relay between kfp.local and the
engine, driven by the Docker SDK the way kfp.local drives it, in front of a stand-in engine on a Unix
socket. (The real engine, podman, runs the whole DAG in images/test-images.sh.)"""

import json
import os
import socketserver
import struct
import threading
from http.server import BaseHTTPRequestHandler

import docker
import pytest

from automl_video_pipelines.containers import ContainerRunner, DockerRelay, socket_path


def test_the_folders_the_parameters_name_are_mounted_once(tmp_path):
    (tmp_path / "data" / "videos").mkdir(parents=True)
    (tmp_path / "data" / "import.csv").write_text("")
    (tmp_path / "elsewhere").mkdir()
    root = tmp_path / "root"
    root.mkdir()
    parameters = {
        "sources": [f"{tmp_path}/data/import.csv", f"{tmp_path}/data/videos/"],
        "serving_root": f"{tmp_path}/elsewhere/serving",  # not made yet: its existing parent is mounted
        "predictions_prefix": f"file://{root}/predictions",  # inside the pipeline root kfp.local mounts
        "prediction_inputs": ["gs://bucket/in.csv"],  # not a local path
        "model_display_name": "not/a/path",
        "prediction_params": {"nested": [f"{tmp_path}/data/x.csv"]},
        "budget_minutes": 1.0,
    }
    runner = ContainerRunner(mounts=(str(tmp_path / "extra"),))
    assert runner.folders(parameters, str(root)) == [
        str(tmp_path / "data"),
        str(tmp_path / "elsewhere"),
        str(tmp_path / "extra"),
    ]


def test_only_local_engine_sockets(monkeypatch):
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    assert socket_path("") == "/var/run/docker.sock"
    assert socket_path("unix:///run/podman/podman.sock") == "/run/podman/podman.sock"
    with pytest.raises(ValueError, match="only a local unix:// socket"):
        socket_path("tcp://10.0.0.1:2375")


class StandInEngine:
    """Just enough of the Docker Engine API for ``containers.run(detach=True)``, ``logs(stream=True)``
    and ``wait()``, removing a container at once when it was created with AutoRemove (as an engine does
    when it exits) and recording every request."""

    def __init__(self, path: str):
        self.requests: list[tuple[str, str, dict]] = []
        self.removed: set[str] = set()
        self.auto_remove: dict[str, bool] = {}
        engine = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self, status: int, body: bytes = b"", content_type="application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else {}
                path = self.path.split("?")[0]
                path = path.split("/", 2)[-1] if path.startswith("/v1.") else path[1:]
                engine.requests.append((self.command, path, body))
                if path == "containers/create":
                    engine.auto_remove["c1"] = body["HostConfig"]["AutoRemove"]
                    return self._answer(201, json.dumps({"Id": "c1", "Warnings": []}).encode())
                if path == "containers/c1/json":
                    return self._answer(
                        200, json.dumps({"Id": "c1", "Name": "/task", "State": {}, "Config": {"Tty": False}}).encode()
                    )
                if path == "containers/c1/start":
                    return self._answer(204)
                if path == "containers/c1/logs":
                    frames = b"".join(struct.pack(">BxxxL", 1, len(line)) + line for line in (b"one\n", b"two\n"))
                    if engine.auto_remove["c1"]:
                        engine.removed.add("c1")  # the container exits and is removed before the wait
                    return self._answer(200, frames, "application/vnd.docker.raw-stream")
                if path == "containers/c1/wait":
                    if "c1" in engine.removed:  # podman 4.3's answer; Docker's is 404
                        return self._answer(500, b'{"message": "no such container"}')
                    return self._answer(200, b'{"StatusCode": 3}')
                if self.command == "DELETE" and path == "containers/c1":
                    engine.removed.add("c1")
                    return self._answer(204)
                return self._answer(404, b'{"message": "not here"}')

            do_GET = do_POST = do_DELETE = _handle

            def log_message(self, *args):
                pass

        class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
            daemon_threads = True

        self.server = Server(path, Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def engine(tmp_path):
    stand_in = StandInEngine(str(tmp_path / "engine.sock"))
    yield stand_in
    stand_in.server.shutdown()
    stand_in.server.server_close()


def run_as_kfp_local_does(docker_host: str) -> tuple[list[bytes], int]:
    client = docker.DockerClient(base_url=docker_host, version="1.41")
    try:
        container = client.containers.run(image="img", command=["true"], detach=True, auto_remove=True)
        lines = list(container.logs(stream=True))
        return lines, container.wait()["StatusCode"]
    finally:
        client.close()


def test_without_the_relay_the_exit_status_is_lost(engine, tmp_path):
    with pytest.raises(docker.errors.APIError, match="500"):
        run_as_kfp_local_does(f"unix://{tmp_path / 'engine.sock'}")


def test_the_relay_keeps_each_container_until_its_exit_status_is_read(engine, tmp_path):
    with DockerRelay(str(tmp_path / "engine.sock")) as relay:
        assert os.path.exists(relay.path)
        lines, status = run_as_kfp_local_does(relay.docker_host)
    assert lines == [b"one\n", b"two\n"] and status == 3  # streamed through, and the real status
    assert engine.auto_remove == {"c1": False}
    methods = [(method, path) for method, path, _ in engine.requests]
    assert methods[-2:] == [("POST", "containers/c1/wait"), ("DELETE", "containers/c1")]
    assert engine.removed == {"c1"} and not os.path.exists(relay.path)

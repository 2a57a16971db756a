"""A real ``automl-video serve`` process on loopback, and Google's own AutoML clients pointed at it.

google-cloud-automl 2.21.0, the project's pin, is the newest release (``pip index versions
google-cloud-automl``), so the tests run the client exactly as its users have it, unmodified.
"""

import contextlib
import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import requests
from google.api_core.client_options import ClientOptions
from google.cloud import automl_v1beta1 as automl

LOCATION = "us-central1"
START_SECONDS = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """One ``automl-video serve`` process; ``log`` collects its stderr (access log, workers' logs)."""

    workspace: str
    registry_url: str
    args: list[str]
    log_path: str
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Server":
        command = [sys.executable, "-m", "automl_video", "serve", "--port", str(self.port)]
        command += ["--workspace", self.workspace, "--registry", self.registry_url, *self.args]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}:\n{self.log()}")
            with contextlib.suppress(requests.ConnectionError):
                if requests.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return self
            time.sleep(0.2)
        raise RuntimeError(f"the server did not answer within {START_SECONDS} s:\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def log(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def clients(self, key: str | None = "any-key") -> tuple[automl.AutoMlClient, automl.PredictionServiceClient]:
        """Google's clients as a user configures them for this server."""
        options = ClientOptions(api_endpoint=self.url, api_key=key)
        return (
            automl.AutoMlClient(transport="rest", client_options=options),
            automl.PredictionServiceClient(transport="rest", client_options=options),
        )


@pytest.fixture
def start_server(tmp_path) -> Iterator:
    """``start_server(*args, root=..., keys=...)`` starts a server (stopped after the test)."""
    started: list[Server] = []

    def start(*args: str, workspace: str | None = None, keys: dict | None = None, registry_url: str | None = None):
        workspace = workspace or str(tmp_path / "workspace")
        extra = list(args)
        if keys is not None:
            keys_file = tmp_path / "keys.json"
            keys_file.write_text(json.dumps(keys))
            extra += ["--api-keys", str(keys_file)]
        server = Server(
            workspace,
            registry_url or f"sqlite:///{tmp_path / 'registry.sqlite'}",
            ["--allowed-root", str(tmp_path), *extra],
            str(tmp_path / "server.log"),
        )
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


def parent(project: str) -> str:
    return f"projects/{project}/locations/{LOCATION}"


def wait_until(condition, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture(scope="session")
def tiny_videos(tmp_path_factory):
    """Two motion classes, four 1.5 s 64×64 videos each: enough to train for seconds."""
    from automl_video.tasks.classification import synth

    out = tmp_path_factory.mktemp("server_videos")
    return synth.generate(str(out), classes=2, videos_per_class=4, seconds=1.5, seed=3, width=64, height=64, fps=10)


def use_vertex(server: Server, project: str, key: str | None = None) -> None:
    """Google's Vertex SDK pointed at ``server`` as a user points it (only ``aiplatform.init`` differs from
    code that calls Google). A key goes in google-auth's API-key credentials, which send it as
    ``x-goog-api-key`` on every request, the operations client's polls included (``request_metadata``
    would miss those); no key: anonymous."""
    from google.auth import api_key
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import aiplatform

    aiplatform.init(
        project=project,
        location=LOCATION,
        api_endpoint=server.url,
        api_transport="rest",
        credentials=api_key.Credentials(key) if key else AnonymousCredentials(),
    )

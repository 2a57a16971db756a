"""Every task of a local run in its own image: ``kfp.local.DockerRunner`` on Docker or on podman's
Docker-compatible API (``podman system service``).

What the project does so that runs need no workaround: the pipelines are compiled with the images as
constants (``ClusterSettings.image_parameters``; kfp.local runs the image a task names and does not
resolve pipeline parameters), the local folders the run's parameters name are mounted at the same
paths (kfp.local mounts only the pipeline root), the registry the record steps write is passed as
the run's ``registry_url`` with its folder mounted, and containers run as the calling user (their
outputs land in the caller's pipeline root) on the host network (a registry or object store on
loopback stays reachable).

Where kfp.local itself falls short, :class:`DockerRelay` stands between it and the engine: kfp.local
starts every container with ``auto_remove=True`` and only then waits for its exit status, a race it
loses when the container is gone first. Docker then answers 404, which kfp.local takes for exit
status 0, hiding a failed task; podman 4.3 answers 500, which kfp.local does not catch. The relay
creates the containers without auto-removal and removes each one after its wait has returned the
real exit status. Nothing in kfp is patched.
"""

import contextlib
import http.client
import json
import logging
import os
import re
import socket
import socketserver
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from automl_video import storage

log = logging.getLogger(__name__)

DEFAULT_SOCKET = "/var/run/docker.sock"
# Absolute path inside every task container: writable whatever user the container runs as.
CONTAINER_HOME = "/tmp"
_CREATE = re.compile(r"^/(v[0-9.]+/)?containers/create(\?|$)")
_WAIT = re.compile(r"^/(v[0-9.]+/)?containers/([^/?]+)/wait(\?|$)")
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "te", "trailer", "upgrade"}


def socket_path(docker_host: str) -> str:
    """The Unix socket of a ``DOCKER_HOST`` value (``unix:///run/podman/podman.sock``); ValueError otherwise."""
    host = docker_host or os.environ.get("DOCKER_HOST", "") or f"unix://{DEFAULT_SOCKET}"
    if not host.startswith("unix://"):
        raise ValueError(f"container engine {host!r}: only a local unix:// socket is supported for local runs")
    return host[len("unix://") :]


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float | None = None):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self._path)


class DockerRelay:
    """A Docker API relay on a Unix socket of its own, in front of the engine's socket (see the module)."""

    def __init__(self, upstream: str):
        self.upstream = upstream
        self._folder = tempfile.mkdtemp(prefix="automl-video-relay-")
        self.path = os.path.join(self._folder, "docker.sock")
        relay = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                with contextlib.suppress(ConnectionError, OSError):
                    while relay._relay_one(self.rfile, self.wfile):
                        pass

        class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
            daemon_threads = True

        self._server = Server(self.path, Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="docker-relay", daemon=True)

    @property
    def docker_host(self) -> str:
        return f"unix://{self.path}"

    def __enter__(self) -> "DockerRelay":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)
            os.rmdir(self._folder)

    def _relay_one(self, rfile, wfile) -> bool:
        """Relay one request and its response; False when the client closed the connection."""
        request_line = rfile.readline()
        if not request_line.strip():
            return False
        method, target, _ = request_line.decode("latin-1").split(" ", 2)
        headers = http.client.parse_headers(rfile)
        body = _read_body(rfile, headers)
        if method == "POST" and _CREATE.match(target) and body:
            spec = json.loads(body)
            spec.setdefault("HostConfig", {})["AutoRemove"] = False
            body = json.dumps(spec).encode()
        upstream = _UnixConnection(self.upstream)
        forwarded = {k: v for k, v in headers.items() if k.lower() not in _HOP_BY_HOP}
        upstream.request(method, target, body=body, headers=forwarded)
        response = upstream.getresponse()
        wfile.write(f"HTTP/1.1 {response.status} {response.reason}\r\n".encode("latin-1"))
        for key, value in response.getheaders():
            if key.lower() not in _HOP_BY_HOP:
                wfile.write(f"{key}: {value}\r\n".encode("latin-1"))
        wfile.write(b"Transfer-Encoding: chunked\r\n\r\n")
        while chunk := response.read1(65536):
            wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            wfile.flush()
        wfile.write(b"0\r\n\r\n")
        wfile.flush()
        upstream.close()
        waited = _WAIT.match(target)
        if method == "POST" and waited and response.status == 200:
            self._remove(waited.group(2))
        return headers.get("Connection", "").lower() != "close"

    def _remove(self, container: str) -> None:
        """Remove a container whose exit status has been read (what auto-removal was meant to do)."""
        connection = _UnixConnection(self.upstream, timeout=60)
        try:
            connection.request("DELETE", f"/containers/{container}?force=true&v=true")
            response = connection.getresponse()
            response.read()
            if response.status not in (200, 204, 404):
                log.warning("container %s not removed: engine answered %s", container, response.status)
        finally:
            connection.close()


def _read_body(rfile, headers) -> bytes | None:
    if headers.get("Transfer-Encoding", "").lower() == "chunked":
        parts = []
        while size := int(rfile.readline().split(b";")[0].strip() or b"0", 16):
            parts.append(rfile.read(size))
            rfile.readline()
        while rfile.readline().strip():  # trailers
            pass
        return b"".join(parts)
    length = int(headers.get("Content-Length") or 0)
    return rfile.read(length) if length else None


@dataclass(frozen=True)
class ContainerRunner:
    """How a local run puts its tasks in containers.

    ``docker_host``: the engine's socket (default ``$DOCKER_HOST``, else ``/var/run/docker.sock``; for
    podman ``unix:///run/podman/podman.sock`` of ``podman system service``). ``mounts``: more host
    folders the tasks read or write (the folders of the run's own path parameters are mounted anyway).
    """

    docker_host: str = ""
    mounts: tuple[str, ...] = field(default_factory=tuple)

    def folders(self, parameters: dict[str, Any], pipeline_root: str) -> list[str]:
        """Host folders to mount: those of every local path among the parameters, and ``mounts``."""
        found = set()
        for value in _strings(parameters):
            if "://" in value and not value.startswith("file://"):
                continue
            if not value.startswith(("/", "file://")):
                continue
            path = storage.local_path(value) if value.startswith("file://") else value
            folder = path if value.endswith("/") else os.path.dirname(path)
            while folder and not os.path.isdir(folder):
                folder = os.path.dirname(folder)
            if folder and folder != "/":
                found.add(os.path.abspath(folder))
        found.update(os.path.abspath(m) for m in self.mounts)
        root = os.path.abspath(pipeline_root)
        # A folder inside another (or inside the pipeline root, which kfp.local mounts) needs no mount of its own.
        outer = sorted(f for f in found if not any(_inside(f, o) for o in found | {root} if o != f))
        return [f for f in outer if f != root]

    def kfp_runner(self, folders: list[str]):
        """kfp.local's DockerRunner with the mounts, the caller's user, the host network and a writable home."""
        from docker.types import Mount
        from kfp import local as kfp_local

        return kfp_local.DockerRunner(
            mounts=[Mount(target=f, source=f, type="bind") for f in folders],
            user=f"{os.getuid()}:{os.getgid()}",
            network_mode="host",
            environment={"HOME": CONTAINER_HOME},
        )

    @contextlib.contextmanager
    def relayed(self) -> Iterator[str]:
        """Point ``DOCKER_HOST`` at a :class:`DockerRelay` for the block (kfp.local reads it per task)."""
        saved = os.environ.get("DOCKER_HOST")
        with DockerRelay(socket_path(self.docker_host)) as relay:
            os.environ["DOCKER_HOST"] = relay.docker_host
            try:
                yield relay.docker_host
            finally:
                if saved is None:
                    os.environ.pop("DOCKER_HOST", None)
                else:
                    os.environ["DOCKER_HOST"] = saved


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)

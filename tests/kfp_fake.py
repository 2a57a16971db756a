"""A small fake KFP v2beta1 API server on loopback, for the tests of submit, schedule and the SDK's
kfp backend.

It answers the few calls kfp.Client makes and records every request, so tests check what a real KFP
API server would receive. ``on_run`` stands in for the cluster executing a submitted run: it gets the
run's request body before the run is reported SUCCEEDED.
"""

import email.parser
import email.policy
import json
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

API = "/apis/v2beta1"


@dataclass
class Request:
    method: str
    path: str
    query: dict
    headers: dict
    body: dict = field(default_factory=dict)
    upload: dict = field(default_factory=dict)  # multipart: {"filename", "content"}


class FakeKfp:
    """The state of the fake API server: what exists, what it was asked, and failures to inject."""

    def __init__(self):
        self.requests: list[Request] = []
        self.pipelines: dict[str, str] = {}  # display name -> id
        self.fail: dict[tuple[str, str], int] = {}  # (method, path) -> HTTP status to answer
        self.on_run: Callable[[dict], None] | None = None  # "executes" a submitted run
        self.runs: dict[str, dict] = {}  # run id -> the submitted body

    def of(self, method: str, path: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and r.path == API + path]

    def answer(self, request: Request) -> tuple[int, dict]:
        if (request.method, request.path) in self.fail:
            return self.fail[(request.method, request.path)], {"error": "injected failure", "code": 3}
        route = (request.method, request.path[len(API) :])
        if route == ("GET", "/healthz"):
            return 200, {"multi_user": False}
        if route == ("GET", "/experiments"):
            return 200, {"experiments": [], "total_size": 0}
        if route == ("POST", "/experiments"):
            return 200, {"experiment_id": "exp-1", "display_name": request.body["display_name"]}
        if route == ("POST", "/runs"):
            run_id = f"run-{len(self.runs) + 1}"
            self.runs[run_id] = request.body
            return 200, {"run_id": run_id, "experiment_id": request.body["experiment_id"], "state": "PENDING"}
        if request.method == "GET" and route[1].startswith("/runs/") and route[1][len("/runs/") :] in self.runs:
            run_id = route[1][len("/runs/") :]
            if self.on_run is not None:
                self.on_run(self.runs[run_id])
            return 200, {"run_id": run_id, "display_name": self.runs[run_id]["display_name"], "state": "SUCCEEDED"}
        if route == ("GET", "/pipelines"):
            wanted = json.loads(request.query["filter"][0])["predicates"][0]["stringValue"]
            found = [{"pipeline_id": pid, "display_name": n} for n, pid in self.pipelines.items() if n == wanted]
            return 200, {"pipelines": found, "total_size": len(found)}
        if route == ("POST", "/pipelines/upload"):
            name = request.query["name"][0]
            self.pipelines[name] = f"pipeline-{len(self.pipelines) + 1}"
            return 200, {"pipeline_id": self.pipelines[name], "display_name": name}
        if request.method == "GET" and request.path.endswith("/versions"):
            return 200, {"pipeline_versions": [{"pipeline_version_id": "version-1"}], "total_size": 1}
        if route == ("POST", "/pipelines/upload_version"):
            return 200, {"pipeline_id": request.query["pipelineid"][0], "pipeline_version_id": "version-2"}
        if route == ("POST", "/recurringruns"):
            return 200, {"recurring_run_id": "recurring-1", **request.body}
        return 404, {"error": f"no route {route}"}


def _handler(state: FakeKfp):
    class Handler(BaseHTTPRequestHandler):
        def _serve(self):
            url = urllib.parse.urlsplit(self.path)
            request = Request(self.command, url.path, urllib.parse.parse_qs(url.query), dict(self.headers))
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if self.headers.get_content_type() == "multipart/form-data":
                head = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
                form = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
                (part,) = [
                    p for p in form.iter_parts() if p.get_param("name", header="content-disposition") == "uploadfile"
                ]
                request.upload = {"filename": part.get_filename(), "content": part.get_content()}
            elif raw:
                request.body = json.loads(raw)
            state.requests.append(request)
            try:
                status, answer = state.answer(request)
            except Exception as e:  # a request the fake does not understand fails loudly, not silently
                status, answer = 500, {"error": f"fake server: {e!r}"}
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _serve

        def log_message(self, *args):
            pass

    return Handler


@pytest.fixture
def kfp_server():
    state = FakeKfp()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.host = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()

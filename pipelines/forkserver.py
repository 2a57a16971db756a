"""Local pipeline tasks forked from one warmed-up Python instead of each starting a Python of its own.

``kfp.local``'s SubprocessRunner starts every task as ``sh -c "... python3 -m kfp.dsl.executor_main
..."``: a new interpreter that imports kfp, then TensorFlow, Keras and the library before the stage
does anything. On the 2-core machine that is 4–5 s for each of the demo's five TensorFlow tasks (train,
evaluate, two prediction shards, merge, export), 19 % of its wall time. Here one server process imports
all of that once, when the run starts, and every task is a ``fork()`` of it that runs the same
``kfp.dsl.executor_main`` with the same arguments, environment and working folder, its output and exit
status handed back as the subprocess's would be.

Forking is safe because the server only imports: TensorFlow creates its thread pools and sessions on
first use, in each child (a forked child trains and predicts normally; ``tests/pipelines``). A command
of any other shape (a ``pip install`` in it, a container component), or a server that did not start,
runs as ``kfp.local`` would run it.

The wire: the client sends one JSON request (argv, environment, folder) over a Unix socket with the
write end of a pipe attached (``SCM_RIGHTS``), reads the task's output from the pipe's read end and
then one JSON line with the exit status.
"""

import contextlib
import json
import os
import select
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass

from kfp.local import subprocess_task_handler

# What the component bodies import (and what those import): the server imports them once.
PRELOADED = (
    "kfp.dsl.executor_main",
    "tensorflow",
    "keras",
    "automl_video.stage",
    "automl_video.data.importer",
    "automl_video.data.splits",
    "automl_video.training.engine",
    "automl_video.evaluation",
    "automl_video.prediction.engine",
    "automl_video.prediction.shards",
    "automl_video.modeling.export",
    "automl_video.serving",
    "automl_video.records",
    "automl_video.tasks.classification.network",
    "automl_video.tasks.action_recognition.network",
    "automl_video.tasks.object_tracking.network",
)
# How long a run waits for the server's imports before its first task (they take 4–5 s here).
READY_TIMEOUT_SECONDS = 120.0
_COMPONENT_FILE = '"$program_path/ephemeral_component.py"'
_EXECUTOR = "kfp.dsl.executor_main"


@dataclass(frozen=True)
class ExecutorCall:
    """What a lightweight component's ``sh -c`` command runs: the executor over the component's source."""

    source: str
    arguments: list[str]  # after ``--component_module_path FILE`` (``--executor_input ...``)

    @classmethod
    def parse(cls, full_command: list[str]) -> "ExecutorCall | None":
        """The call of ``full_command`` as ``kfp.dsl.component_factory`` writes it for a component
        without packages to install (``sh -ec SCRIPT SOURCE ARGS...``), None for any other command."""
        if len(full_command) < 4 or full_command[0] != "sh":
            return None
        script = full_command[2]
        if _COMPONENT_FILE not in script or _EXECUTOR not in script or "pip install" in script:
            return None
        return cls(source=full_command[3], arguments=full_command[4:])


class ForkServer:
    """The warmed-up process and the socket its tasks are requested on."""

    def __init__(self, folder: str):
        self.socket_path = os.path.join(folder, "tasks.sock")
        self._folder = folder
        self._process = subprocess.Popen(
            [sys.executable, "-m", __name__, self.socket_path],
            stdin=subprocess.PIPE,  # closed by stop() or this process's death: the server then exits
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._ready: bool | None = None

    def ready(self) -> bool:
        """Whether the server listens (waits for its imports the first time); False if it died."""
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while self._ready is None:
            if os.path.exists(self.socket_path):
                self._ready = True
            elif self._process.poll() is not None or time.monotonic() > deadline:
                self._ready = False
            else:
                time.sleep(0.05)
        return self._ready

    def run(self, full_command: list[str], env_vars: dict[str, str] | None = None) -> int:
        """``kfp.local``'s ``run_local_subprocess``: the task's output printed line by line, its exit status."""
        call = ExecutorCall.parse(full_command)
        if call is None or not self.ready():
            return _run_subprocess(full_command, env_vars)
        with tempfile.TemporaryDirectory(dir=self._folder) as program:
            module = os.path.join(program, "ephemeral_component.py")
            with open(module, "w") as f:
                f.write(call.source)
            request = {
                "argv": ["--component_module_path", module, *call.arguments],
                "env": {**os.environ, **(env_vars or {}), "_KFP_RUNTIME": "true"},
                "cwd": os.getcwd(),
            }
            return self._request(request)

    def _request(self, request: dict) -> int:
        read_end, write_end = os.pipe()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.connect(self.socket_path)
            socket.send_fds(connection, [json.dumps(request).encode() + b"\n"], [write_end])
            os.close(write_end)
            with open(read_end, encoding="utf-8", errors="replace") as output:
                for line in output:
                    print(line, end="")
            print("\n")  # as kfp.local separates a task's output from what follows
            reply = connection.makefile("r").readline()
        return int(json.loads(reply)["status"]) if reply else 1

    def stop(self) -> None:
        if self._process.stdin:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


_run_subprocess = subprocess_task_handler.run_local_subprocess


@contextlib.contextmanager
def forked_tasks() -> Iterator[ForkServer]:
    """Until the block ends, every lightweight component's task is a fork of one warmed-up server.

    Nested blocks share the outer one's server: a caller with other work to do first (the demo
    generates its videos) opens the block early, so the server's imports run beside that work instead
    of delaying the first task."""
    if isinstance(subprocess_task_handler.run_local_subprocess, _ServerRun):
        yield subprocess_task_handler.run_local_subprocess.server
        return
    with tempfile.TemporaryDirectory(prefix="automl-video-tasks-") as folder:
        server = ForkServer(folder)
        subprocess_task_handler.run_local_subprocess = _ServerRun(server)
        try:
            yield server
        finally:
            subprocess_task_handler.run_local_subprocess = _run_subprocess
            server.stop()


@dataclass(frozen=True)
class _ServerRun:
    """``kfp.local``'s ``run_local_subprocess`` while a server is installed."""

    server: ForkServer

    def __call__(self, full_command: list[str], env_vars: dict[str, str] | None = None) -> int:
        return self.server.run(full_command, env_vars)


def _serve(socket_path: str) -> None:
    """Import :data:`PRELOADED`, then fork one child per request until stdin closes."""
    import importlib

    for name in PRELOADED:
        importlib.import_module(name)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(socket_path + ".part")
    listener.listen(16)
    os.replace(socket_path + ".part", socket_path)  # the client waits for the name: bound and listening
    waiting: dict[int, socket.socket] = {}  # child pid -> the connection its status goes back on
    while True:
        readable, _, _ = select.select([listener, sys.stdin], [], [], 0.1)
        if sys.stdin in readable and not sys.stdin.buffer.read1(1):
            break
        if listener in readable:
            connection, _ = listener.accept()
            message, fds, _, _ = socket.recv_fds(connection, 1 << 20, 1)
            while not message.endswith(b"\n"):
                message += connection.recv(1 << 20)
            pid = os.fork()
            if pid == 0:
                listener.close()
                _run_task(json.loads(message), fds[0])
            os.close(fds[0])
            waiting[pid] = connection
        _report_finished(waiting)
    for connection in waiting.values():
        connection.close()


def _report_finished(waiting: dict[int, socket.socket]) -> None:
    while waiting:
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            return
        connection = waiting.pop(pid)
        with contextlib.suppress(OSError):
            connection.sendall(json.dumps({"status": os.waitstatus_to_exitcode(status)}).encode() + b"\n")
        connection.close()


def _run_task(request: dict, output_fd: int) -> None:
    """In the forked child: become the task's ``python3 -m kfp.dsl.executor_main`` and exit with its status.

    Signal dispositions stay the server's, which are the run's (a run started with SIGINT ignored, as a
    background job, keeps its tasks running through a Ctrl-C, as kfp.local's own subprocesses would)."""
    import runpy

    status = 1
    try:
        os.dup2(output_fd, 1)
        os.dup2(output_fd, 2)
        os.close(output_fd)
        os.close(0)
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        sys.stdout.reconfigure(line_buffering=True)
        sys.argv = [_EXECUTOR, *request["argv"]]
        runpy.run_module(_EXECUTOR, run_name="__main__", alter_sys=True)
        status = 0
    except SystemExit as exit:
        status = exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
    except BaseException:
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(status)


if __name__ == "__main__":
    _serve(sys.argv[1])

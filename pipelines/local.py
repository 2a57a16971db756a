"""Run a pipeline on this machine through ``kfp.local``, and read back what its tasks produced and when."""

import builtins
import contextlib
import dataclasses
import io
import json
import logging
import os
import re
import sys
import threading
import time
import warnings
from dataclasses import dataclass
from typing import Any

from kfp import local as kfp_local
from kfp.local import logging_utils as kfp_logging

from automl_video import storage
from automl_video_pipelines import PipelineRunError, check_pipeline_name
from automl_video_pipelines.compiling import build_pipelines
from automl_video_pipelines.containers import ContainerRunner
from automl_video_pipelines.forkserver import forked_tasks
from automl_video_pipelines.settings import ClusterSettings


@dataclass
class TaskRecord:
    """One executed task of a local run: its output artifacts, their metadata and output parameters."""

    name: str
    artifacts: dict[str, str]
    metadata: dict[str, dict[str, Any]]
    parameters: dict[str, Any]

    def work_interval(self) -> tuple[float, float] | None:
        """When the stage's own work ran (:attr:`automl_video.stage.StageRun.metadata`), None for glue tasks."""
        for meta in self.metadata.values():
            if "started_at" in meta and "finished_at" in meta:
                return float(meta["started_at"]), float(meta["finished_at"])
        return None


@dataclass
class LocalRunResult:
    """A finished ``kfp.local`` run: where its outputs are and how its time was spent.

    ``stage_seconds`` is the time during which at least one stage was doing its own work; the rest
    of ``wall_seconds`` is orchestration (process start, imports, artifact bookkeeping).
    """

    pipeline: str
    run_dir: str
    wall_seconds: float
    stage_seconds: float
    tasks: list[TaskRecord]

    @property
    def overhead_share(self) -> float:
        return max(0.0, 1.0 - self.stage_seconds / self.wall_seconds) if self.wall_seconds > 0 else 0.0

    def task(self, name: str) -> TaskRecord:
        """The task named ``name`` (the last path part of its folder, e.g. ``train-model``)."""
        matches = [t for t in self.tasks if t.name.rsplit("/", 1)[-1] == name]
        if not matches:
            raise KeyError(f"no task {name!r} ran in {self.run_dir}; ran: {', '.join(t.name for t in self.tasks)}")
        return matches[0]

    def has_task(self, name: str) -> bool:
        return any(t.name.rsplit("/", 1)[-1] == name for t in self.tasks)


def run_local(
    pipeline: str,
    parameters: dict[str, Any],
    pipeline_root: str,
    settings: ClusterSettings | None = None,
    log_file: str | None = None,
    containers: ContainerRunner | None = None,
) -> LocalRunResult:
    """Run a pipeline on this machine through ``kfp.local``: each task a fork of one warmed-up Python
    (:mod:`automl_video_pipelines.forkserver`), or, with ``containers``, a container of its image
    (:mod:`automl_video_pipelines.containers`).

    Task output goes to ``log_file``, or to stderr (stdout stays for the CLI's result); which task
    runs and how it ended is logged on stderr either way. The record steps write the registry of
    ``parameters["registry_url"]``, else the default one (``kfp.local`` does not cache, so the
    caching settings change nothing here).

    Args:
        pipeline: ``training`` or ``batch-prediction``.
        parameters: the pipeline parameters (``TrainingArguments.parameters()`` ...).
        pipeline_root: local folder receiving every task's artifacts (one sub-folder per run).
        settings: cluster settings: retries are turned off; the images matter only with ``containers``.
        log_file: local file receiving the tasks' own output.
        containers: run every task in its image on this Docker-compatible engine.

    Returns:
        The run's tasks, output locations and timing.

    Raises:
        PipelineRunError: a task failed; the message names it and the run folder.
    """
    check_pipeline_name(pipeline)
    root = os.path.abspath(storage.local_path(pipeline_root))
    os.makedirs(root, exist_ok=True)
    existing = set(os.listdir(root))
    # kfp.local honours retries (with their minutes of backoff), but here no node gets preempted: a
    # failure would only fail again.
    settings = dataclasses.replace(settings or ClusterSettings.from_env(), retries=0)
    if containers is None:
        runner = kfp_local.SubprocessRunner(use_venv=False)
    else:
        settings = dataclasses.replace(settings, image_parameters=False)
        parameters, registry_folder = _with_registry_url(parameters)
        folders = containers.folders(parameters, root) + ([registry_folder] if registry_folder else [])
        runner = containers.kfp_runner(folders)
    pipeline_func = build_pipelines(settings)[pipeline]
    kfp_local.init(runner=runner, pipeline_root=root, raise_on_error=True)
    started = time.time()
    failure = None
    with contextlib.ExitStack() as stack:
        if containers is not None:
            stack.enter_context(containers.relayed())
        else:
            stack.enter_context(forked_tasks())
        stack.enter_context(_print_restored())
        task_output = stack.enter_context(_TaskOutput(log_file))
        stack.enter_context(_kfp_root_records_to(task_output))
        stack.enter_context(contextlib.redirect_stdout(task_output))
        stack.enter_context(warnings.catch_warnings())
        # The subprocess runner ignores images, resources and retries, and warns about each, every task.
        warnings.filterwarnings("ignore", message=".*non-Python base image.*", category=RuntimeWarning)
        warnings.filterwarnings("ignore", message=".*no effect in the current local runner.*", category=UserWarning)
        try:
            pipeline_func(**parameters)
        except RuntimeError as e:
            failure = _ANSI.sub("", str(e))
    wall = time.time() - started
    new_dirs = sorted(d for d in set(os.listdir(root)) - existing if os.path.isdir(os.path.join(root, d)))
    run_dir = os.path.join(root, new_dirs[-1]) if new_dirs else root
    if failure:
        names = task_output.failed_tasks
        failed = f"task{'s' if len(names) > 1 else ''} {', '.join(repr(n) for n in names)}" if names else failure
        logs = f"in {log_file}" if log_file else "above"
        raise PipelineRunError(
            f"the {pipeline} pipeline failed: {failed} failed (tracebacks are in the task logs {logs}); "
            f"outputs so far are under {run_dir}"
        )
    return summarize_local_run(pipeline, run_dir, wall)


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _with_registry_url(parameters: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The parameters with the registry the containers must write (the one this process would), and the
    folder of a SQLite registry to mount ("" for none)."""
    from automl_video.records import RecordTarget

    target = RecordTarget.resolve(parameters.get("registry_url", ""))
    if target is None:
        return parameters, ""
    import sqlalchemy as sa

    url = sa.make_url(target.url)
    folder = os.path.dirname(os.path.abspath(url.database)) if url.get_backend_name() == "sqlite" else ""
    if folder:
        os.makedirs(folder, exist_ok=True)
    return {**parameters, "registry_url": target.url}, folder


@contextlib.contextmanager
def _print_restored():
    """Restore ``print`` after a run: kfp.local swaps it per task (to indent task output), and with
    parallel tasks the swaps interleave and can outlive the run."""
    saved_print = builtins.print
    try:
        yield
    finally:
        builtins.print = saved_print


@contextlib.contextmanager
def _kfp_root_records_to(task_output: "_TaskOutput"):
    """During a run, kfp.local's own log records (task status, outputs) go where the tasks' output goes,
    in kfp.local's format, and every other record to the handlers it had.

    kfp.local swaps the root logger's handlers around each task (``local_logger_context``: save,
    clear, add its own, restore), which parallel tasks (the prediction shards) race through: one that
    saves the list while another has it cleared restores an empty one, and a task still running then
    logs into nothing, or into ``basicConfig``'s raw stderr handler (CI lost one shard's "finished"
    line so). 4 threads through the real context lose or double a line in about 1 round of 6
    (``tests/pipelines/test_local_output.py``). So for the run its swap does nothing and one handler,
    installed once, takes every record.
    """
    root = logging.getLogger()
    previous, previous_level, previous_context = root.handlers[:], root.level, kfp_logging.local_logger_context
    root.handlers[:] = [_RunLogHandler(task_output, previous)]
    root.setLevel(logging.INFO)  # what kfp.local's context sets, for its INFO status lines
    kfp_logging.local_logger_context = contextlib.nullcontext
    try:
        yield
    finally:
        kfp_logging.local_logger_context = previous_context
        root.handlers[:] = previous
        root.setLevel(previous_level)


class _RunLogHandler(logging.Handler):
    _KFP = f"{os.sep}kfp{os.sep}"

    def __init__(self, task_output: "_TaskOutput", previous: list[logging.Handler]):
        super().__init__()
        self.task_output = task_output
        self.previous = previous
        self.kfp_format = kfp_logging.MillisecondFormatter(
            fmt="%(asctime)s - %(levelname)s - %(message)s", datefmt="%H:%M:%S.%f"
        )

    def emit(self, record: logging.LogRecord) -> None:
        if self._KFP in record.pathname:
            self.task_output.write(self.kfp_format.format(record) + "\n")
        else:
            for handler in self.previous:
                if record.levelno >= handler.level:
                    handler.handle(record)


class _TaskOutput(io.TextIOBase):
    """Where kfp.local's output goes during a run: task output to a log file (or stderr); with a log
    file, kfp.local's "Executing task"/"finished with status" lines and our own log lines from the
    tasks (epochs with rate, ETA and budget left; decoding; evaluation; prediction; each stage's
    summary: :data:`automl_video.progress.LOG_FORMAT`) also to stderr as they come, each named by its
    task; and the names of the tasks that failed remembered for the error message."""

    _STATUS = re.compile(r"Task '([^']+)' finished with status (\w+)")
    _EXECUTING = re.compile(r"Executing task '([^']+)'")
    _KFP_PROGRESS = re.compile(r"Executing task|finished with status|Skipping")
    # "2026-12-02 03:00:00,123 INFO automl_video.training.engine: epoch 1/8: ..."
    _OURS = re.compile(r"^(\S+ \S+) (INFO|WARNING|ERROR|CRITICAL) automl_video[\w.]*: (.*)$")

    def __init__(self, log_file: str | None):
        self._file = open(log_file, "a", encoding="utf-8") if log_file else None
        self._lock = threading.Lock()  # parallel tasks' output comes from their own threads
        self._pending = ""
        self._task = ""
        self.failed_tasks: list[str] = []

    def write(self, text: str) -> int:
        with self._lock:
            self._write(text)
        return len(text)

    def _write(self, text: str) -> None:
        (self._file or sys.stderr).write(text)
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        for line in map(lambda raw: _ANSI.sub("", raw).strip(), lines):
            status = self._STATUS.search(line)
            if status and status.group(2) == "FAILURE" and status.group(1) not in self.failed_tasks:
                self.failed_tasks.append(status.group(1))
            if executing := self._EXECUTING.search(line):
                self._task = executing.group(1)
            if not self._file:
                continue
            if self._KFP_PROGRESS.search(line):
                sys.stderr.write(line + "\n")  # not print(): kfp.local swaps it
            elif ours := self._OURS.match(line):
                when, level, message = ours.groups()
                sys.stderr.write(f"{when} {level} {self._task or 'task'}: {message}\n")

    def flush(self) -> None:
        (self._file or sys.stderr).flush()

    def close(self) -> None:
        super().close()  # flushes first
        if self._file:
            self._file.close()


def summarize_local_run(pipeline: str, run_dir: str, wall_seconds: float) -> LocalRunResult:
    """Read every task's ``executor_output.json`` under a ``kfp.local`` run folder."""
    tasks = []
    for folder, _, files in sorted(os.walk(run_dir)):
        if "executor_output.json" not in files:
            continue
        with open(os.path.join(folder, "executor_output.json")) as f:
            output = json.load(f)
        artifacts, metadata = {}, {}
        for name, listed in output.get("artifacts", {}).items():
            first = listed["artifacts"][0]
            artifacts[name] = first["uri"]
            metadata[name] = first.get("metadata", {})
        name = os.path.relpath(folder, run_dir).replace(os.sep, "/")
        tasks.append(TaskRecord(name, artifacts, metadata, output.get("parameterValues", {})))
    intervals = [i for i in (t.work_interval() for t in tasks) if i]
    return LocalRunResult(pipeline, run_dir, wall_seconds, _union_length(intervals), tasks)


def _union_length(intervals: list[tuple[float, float]]) -> float:
    """Total time covered by possibly overlapping intervals (parallel shards count once)."""
    total, end = 0.0, float("-inf")
    for start, stop in sorted(intervals):
        if stop <= end:
            continue
        total += stop - max(start, end)
        end = stop
    return total

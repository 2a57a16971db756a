"""What a local run prints while parallel tasks run: kfp.local's real per-task logger context, entered
by several threads at once as its DAG orchestrator does for the prediction shards, loses no status
line and doubles none, and task output written from several threads keeps every line whole.

Without the run's single handler, 4 threads through kfp.local's context lost or doubled a line in 47
of 300 rounds here (CI once showed one of two shards' "finished" lines only)."""

import logging
import sys
import threading

import pytest
from kfp.local import logging_utils as kfp_logging

from automl_video_pipelines.local import _kfp_root_records_to, _TaskOutput

THREADS = 4
ROUNDS = 100
KFP_LOGGER_CONTEXT = kfp_logging.local_logger_context


@pytest.fixture
def fast_thread_switches():
    """Switch threads every microsecond, so that the threads interleave inside kfp.local's context."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


def _in_parallel(work) -> None:
    start = threading.Barrier(THREADS)

    def task(index: int) -> None:
        start.wait()
        work(index)

    threads = [threading.Thread(target=task, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _kfp_task(index: int) -> None:
    """What kfp.local's task dispatcher logs around one task, through its own context."""
    with kfp_logging.local_logger_context():
        _kfp_log(f"Executing task 'shard-{index}'")
        _kfp_log(f"Task 'shard-{index}' finished with status SUCCESS")


def _kfp_log(message: str) -> None:
    """Log on the root logger as kfp.local's ``logging.info`` does: a record from a file of kfp's."""
    root = logging.getLogger()
    if root.isEnabledFor(logging.INFO):
        root.handle(root.makeRecord("root", logging.INFO, kfp_logging.__file__, 1, message, (), None))


def test_parallel_tasks_status_lines_each_arrive_once(tmp_path, fast_thread_switches, capsys):
    log_file = tmp_path / "tasks.log"
    root = logging.getLogger()
    handlers_before = root.handlers[:]
    for _ in range(ROUNDS):
        with _TaskOutput(str(log_file)) as output, _kfp_root_records_to(output):
            _in_parallel(_kfp_task)
    logged = log_file.read_text()
    progress = capsys.readouterr().err  # the status lines the run shows on stderr
    for index in range(THREADS):
        line = f"Task 'shard-{index}' finished with status SUCCESS"
        assert logged.count(line) == ROUNDS and progress.count(line) == ROUNDS
    assert "INFO:root" not in progress  # nothing fell through to logging's last-resort handler
    assert root.handlers == handlers_before and kfp_logging.local_logger_context is KFP_LOGGER_CONTEXT


def test_task_output_from_parallel_threads_keeps_every_line_whole(tmp_path, fast_thread_switches):
    log_file = tmp_path / "tasks.log"
    lines_per_thread = 300

    with _TaskOutput(str(log_file)) as output:

        def relay(index: int) -> None:
            for n in range(lines_per_thread):  # kfp.local's indented print: the indent, then the line
                output.write("    ")
                output.write(f"Task 'shard-{index}' finished with status FAILURE line {n}\n")

        _in_parallel(relay)
    assert sorted(output.failed_tasks) == [f"shard-{i}" for i in range(THREADS)]
    assert len(log_file.read_text().splitlines()) == THREADS * lines_per_thread

"""Local tasks forked from the warmed-up server: real kfp.local runs of real lightweight components.

Each component reports whether TensorFlow was already imported when its body started: only a fork of
the server (which imports it once) says yes; a task started as its own Python says no. The tasks also
see the environment of the moment they run, fail with their traceback in the task output, and run in
parallel."""

import json
import threading

import pytest
from kfp import dsl
from kfp import local as kfp_local

from automl_video_pipelines.forkserver import ExecutorCall, forked_tasks


@dsl.component(base_image="python:3.11", install_kfp_package=False)
def warm_probe(marker_name: str) -> str:
    import json
    import os
    import sys

    return json.dumps({"tensorflow_ready": "tensorflow" in sys.modules, "marker": os.environ.get(marker_name, "")})


@dsl.component(base_image="python:3.11", install_kfp_package=False)
def failing_task(reason: str) -> str:
    raise ValueError(reason)


@dsl.pipeline
def two_probes(marker_name: str) -> str:
    first = warm_probe(marker_name=marker_name)
    warm_probe(marker_name=marker_name).after(first)
    return first.output


@pytest.fixture
def local_runs(tmp_path):
    kfp_local.init(runner=kfp_local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path), raise_on_error=True)


def _probe(marker_name: str) -> dict:
    return json.loads(warm_probe(marker_name=marker_name).output)


def test_tasks_are_forks_of_the_warmed_up_server(local_runs, monkeypatch):
    monkeypatch.setenv("FORKSERVER_TEST_MARKER", "before")
    with forked_tasks() as server:
        monkeypatch.setenv("FORKSERVER_TEST_MARKER", "at the task")  # after the server started
        assert _probe("FORKSERVER_TEST_MARKER") == {"tensorflow_ready": True, "marker": "at the task"}
        assert server.ready()
        with forked_tasks() as nested:  # a run inside a caller's block (the demo's) uses its server
            assert nested is server
            assert _probe("FORKSERVER_TEST_MARKER")["tensorflow_ready"]
    # Outside the run, a task is its own Python again, which has not imported TensorFlow.
    assert _probe("FORKSERVER_TEST_MARKER") == {"tensorflow_ready": False, "marker": "at the task"}


def test_a_pipeline_of_forked_tasks_runs_each(local_runs):
    with forked_tasks():
        result = two_probes(marker_name="HOME")
    assert result.output and '"tensorflow_ready": true' in result.output


def test_parallel_forked_tasks_each_get_their_own_output(local_runs, monkeypatch):
    monkeypatch.setenv("FORKSERVER_TEST_MARKER", "parallel")
    results: list[dict] = []
    with forked_tasks():
        threads = [threading.Thread(target=lambda: results.append(_probe("FORKSERVER_TEST_MARKER"))) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert results == [{"tensorflow_ready": True, "marker": "parallel"}] * 3


def test_a_failing_forked_task_fails_with_its_traceback(local_runs, capfd):
    with forked_tasks(), pytest.raises(RuntimeError, match="failing-task"):
        failing_task(reason="the reason the task gave")
    output = capfd.readouterr()
    assert "ValueError: the reason the task gave" in output.out + output.err


def test_only_a_plain_executor_command_is_forked():
    command = list(warm_probe.component_spec.implementation.container.command)
    args = ["--executor_input", "{}", "--function_to_execute", "warm_probe"]
    call = ExecutorCall.parse(command + args)
    assert call is not None and "def warm_probe" in call.source and call.arguments == args
    with_install = [command[0], command[1], "pip install x && " + command[2], *command[3:]]
    assert ExecutorCall.parse(with_install + args) is None
    assert ExecutorCall.parse(["python3", "-c", "print(1)"]) is None

"""Operations with Google's client: two imports into one dataset at once, cancelling a training, and a
server killed with SIGKILL in the middle of CreateModel and started again."""

import csv
import json
import os
import signal

import pytest
from google.api_core import exceptions
from google.api_core import operation as lro
from google.cloud import automl_v1beta1 as automl

from automl_video.data import dataset as dataset_lib
from automl_video.registry import OperationState, Registry
from tests.server.conftest import parent, wait_until

PROJECT = "team-a"
VIDEO = automl.Dataset(display_name="videos", video_classification_dataset_metadata={})


def model_request(dataset: automl.Dataset) -> automl.Model:
    return automl.Model(
        display_name="motions", dataset_id=dataset.name.rsplit("/", 1)[1], video_classification_model_metadata={}
    )


def imported_dataset(client, tiny_videos) -> automl.Dataset:
    dataset = client.create_dataset(parent=parent(PROJECT), dataset=VIDEO)
    source = {"gcs_source": {"input_uris": [tiny_videos.import_csv]}}
    client.import_data(name=dataset.name, input_config=source).result(timeout=120)
    return dataset


def test_two_imports_into_one_dataset_at_once_both_land(start_server, tiny_videos, tmp_path):
    server = start_server("--allowed-root", os.path.dirname(tiny_videos.import_csv))
    client, _ = server.clients()
    rows = [row for uri in tiny_videos.csvs.values() for row in csv.reader(open(uri)) if row]
    videos = sorted({row[0] for row in rows})
    halves = [set(videos[::2]), set(videos[1::2])]
    sources = []
    for index, half in enumerate(halves):
        second = tmp_path / f"rows{index}.csv"
        second.write_text("".join(",".join(row) + "\n" for row in rows if row[0] in half))
        top = tmp_path / f"import{index}.csv"
        top.write_text(f"UNASSIGNED,{second}\n")
        sources.append(str(top))
    dataset = client.create_dataset(parent=parent(PROJECT), dataset=VIDEO)
    imports = [client.import_data(name=dataset.name, input_config={"gcs_source": {"input_uris": [s]}}) for s in sources]
    for operation in imports:
        operation.result(timeout=120)
    assert client.get_dataset(name=dataset.name).example_count == len(videos)
    with Registry(server.registry_url) as registry:
        first, second = (registry.get_operation(op.operation.name) for op in imports)
        data_uri = registry.get_dataset(dataset.name).data_uri
    assert second.start_time >= first.end_time  # one waited for the other: neither overwrote the other
    stored = dataset_lib.load(data_uri)
    assert {v.uri for v in stored.videos} == set(videos) and len(stored.imports) == 2


@pytest.mark.slow
def test_cancel_stops_training_and_leaves_nothing_behind(start_server, tiny_videos):
    server = start_server("--allowed-root", os.path.dirname(tiny_videos.import_csv), "--train-budget-minutes", "5")
    client, _ = server.clients()
    dataset = imported_dataset(client, tiny_videos)
    creating = client.create_model(parent=parent(PROJECT), model=model_request(dataset))
    name = creating.operation.name
    operations = client._transport.operations_client
    with Registry(server.registry_url) as registry:
        record = wait_until(
            lambda: (r := registry.get_operation(name)).progress_percent >= 5 and r, 120, "training to start"
        )
        work = record.work["work_uri"]
        wait_until(lambda: os.path.exists(os.path.join(work, "dataset", "dataset.json")), 60, "the split")
        operations.cancel_operation(name=name)
        with pytest.raises(exceptions.Cancelled, match="cancelled by the user"):
            creating.result(timeout=120)
        ended = registry.get_operation(name)
        job = registry.get_job(record.work["training_pipeline"])
    assert ended.state is OperationState.CANCELLED and ended.end_time is not None
    assert job.state.value == "PIPELINE_STATE_CANCELLED"
    assert not os.path.exists(work)
    assert not list(client.list_models(parent=parent(PROJECT)))
    assert operations.get_operation(name=name).error.code == 1


@pytest.mark.slow
def test_a_server_killed_during_create_model_resumes_training_from_its_checkpoint(start_server, tiny_videos):
    args = ("--allowed-root", os.path.dirname(tiny_videos.import_csv), "--train-budget-minutes", "0.6")
    server = start_server(*args, "--lease-seconds", "5")
    client, _ = server.clients()
    dataset = imported_dataset(client, tiny_videos)
    creating = client.create_model(parent=parent(PROJECT), model=model_request(dataset))
    name = creating.operation.name
    with Registry(server.registry_url) as registry:
        work = wait_until(lambda: registry.get_operation(name).work["work_uri"], 30, "the operation")
        state_file = os.path.join(work, "model", "checkpoints", "state.json")
        wait_until(
            lambda: os.path.exists(state_file) and json.load(open(state_file))["epochs"] >= 1, 300, "a checkpoint"
        )
        assert client.get_dataset(name=dataset.name).example_count > 0  # the server answers while it trains
        training = client._transport.operations_client.get_operation(name=name)
        metadata = automl.OperationMetadata.deserialize(training.metadata.value)
        assert not training.done and 10 <= metadata.progress_percent <= 85  # training, by its spent budget
        server.stop(signal.SIGKILL)
        # The worker sees its server gone and gives the operation back; nothing is lost.
        wait_until(lambda: registry.get_operation(name).state is OperationState.QUEUED, 60, "the give-back")
        server.start()
        client, _ = server.clients()
        operations = client._transport.operations_client  # a new client follows the operation by name
        resumed = lro.from_gapic(
            operations.get_operation(name=name), operations, automl.Model, metadata_type=automl.OperationMetadata
        )
        trained = resumed.result(timeout=600)
        record = registry.get_operation(name)
    assert trained.display_name == "motions" and record.attempts == 2
    assert "resuming from epoch" in server.log()
    assert client.get_model(name=trained.name).name == trained.name


def test_with_a_kfp_backend_create_model_submits_the_training_pipeline(start_server, tiny_videos):
    """--backend kfp:HOST trains through the KFP pipelines: with no KFP API server at HOST the operation
    fails naming it, after the training pipeline reached its submit stage."""
    server = start_server(
        "--allowed-root", os.path.dirname(tiny_videos.import_csv), "--backend", "kfp:http://127.0.0.1:9"
    )
    client, _ = server.clients()
    dataset = imported_dataset(client, tiny_videos)
    creating = client.create_model(parent=parent(PROJECT), model=model_request(dataset))
    with pytest.raises(exceptions.GoogleAPICallError, match="127.0.0.1:9"):
        creating.result(timeout=300)
    with Registry(server.registry_url) as registry:
        job = registry.get_job(registry.get_operation(creating.operation.name).work["training_pipeline"])
    assert job.run_info["backend"] == "kfp:http://127.0.0.1:9" and job.run_info["stage"] == "submit"

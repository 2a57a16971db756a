"""Every error status the server answers, API-key isolation between projects, allowed roots (a
symbolic link included), body limits, queue limits and the access log, against a real server with
Google's client where the client can make the call and plain HTTP where it cannot."""

import json
import os

import pytest
import requests
from google.api_core import exceptions
from google.cloud import automl_v1beta1 as automl

from automl_video.registry import Registry
from tests.server.conftest import parent, wait_until

KEYS = {"k-team-a": ["team-a"], "k-ops": ["team-a", "team-b"], "k-queue": ["team-q"]}
VIDEO = automl.Dataset(display_name="videos", video_classification_dataset_metadata={})


@pytest.fixture
def server(start_server, tiny_videos):
    return start_server(
        "--allowed-root",
        os.path.dirname(tiny_videos.import_csv),
        "--max-body-bytes",
        "4096",
        "--max-queued-per-project",
        "2",
        keys=KEYS,
    )


def error_of(response: requests.Response) -> dict:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "status"}
    assert body["error"]["code"] == response.status_code
    assert "Traceback" not in response.text and 'File "' not in response.text
    return body["error"]


def call(server, method: str, path: str, key: str | None = "k-team-a", **kwargs) -> requests.Response:
    headers = {"x-goog-api-key": key} if key else {}
    return requests.request(method, f"{server.url}/v1beta1/{path}", headers=headers, timeout=30, **kwargs)


def test_keys_are_required_and_confine_each_key_to_its_projects(server):
    client_a, _ = server.clients("k-team-a")
    client_ops, _ = server.clients("k-ops")
    ops_b = client_ops.create_dataset(parent=parent("team-b"), dataset=VIDEO)
    ops_a = client_ops.create_dataset(parent=parent("team-a"), dataset=VIDEO)
    assert [d.name for d in client_a.list_datasets(parent=parent("team-a"))] == [ops_a.name]
    with pytest.raises(exceptions.Forbidden, match="may not use project 'team-b'"):
        client_a.get_dataset(name=ops_b.name)
    with pytest.raises(exceptions.Forbidden):
        list(client_a.list_datasets(parent=parent("team-b")))
    with pytest.raises(exceptions.Forbidden):
        client_a.delete_dataset(name=ops_b.name)
    with pytest.raises(exceptions.Forbidden):
        client_a.import_data(name=ops_b.name, input_config={"gcs_source": {"input_uris": ["/x.csv"]}})
    # The same ID under another project is another resource: team-a's key never reaches team-b's.
    same_id = f"projects/team-a/locations/us-central1/datasets/{ops_b.name.rsplit('/', 1)[1]}"
    with pytest.raises(exceptions.NotFound):
        client_a.get_dataset(name=same_id)
    assert client_ops.get_dataset(name=ops_b.name).name == ops_b.name

    missing = call(server, "GET", f"{parent('team-a')}/datasets", key=None)
    assert missing.status_code == 401 and error_of(missing)["status"] == "UNAUTHENTICATED"
    wrong, _ = server.clients("k-wrong")
    with pytest.raises(exceptions.Unauthorized, match="not valid"):
        list(wrong.list_datasets(parent=parent("team-a")))
    operations = call(server, "GET", f"{parent('team-b')}/operations")
    assert operations.status_code == 403 and error_of(operations)["status"] == "PERMISSION_DENIED"
    assert requests.get(f"{server.url}/healthz", timeout=10).status_code == 200  # probes need no key
    log = server.log()
    assert "GET /v1beta1/projects/team-a/locations/us-central1/datasets 401" in log
    assert not any(key in log for key in KEYS) and "k-wrong" not in log


def test_every_error_status_has_its_code_and_message(server, tmp_path):
    client, prediction = server.clients("k-team-a")
    location = parent("team-a")
    with pytest.raises(exceptions.BadRequest, match="display_name 'has space'"):
        client.create_dataset(
            parent=location, dataset=automl.Dataset(display_name="has space", video_classification_dataset_metadata={})
        )
    with pytest.raises(exceptions.BadRequest, match="set exactly one dataset metadata field"):
        client.create_dataset(parent=location, dataset=automl.Dataset(display_name="none"))
    with pytest.raises(exceptions.BadRequest, match="video datasets and models only"):
        client.create_dataset(
            parent=location, dataset=automl.Dataset(display_name="img", image_classification_dataset_metadata={})
        )
    with pytest.raises(exceptions.BadRequest, match="location 'europe-west4' is not served"):
        client.create_dataset(parent="projects/team-a/locations/europe-west4", dataset=VIDEO)
    unknown_field = call(server, "POST", f"{location}/datasets", json={"displayName": "x", "colour": "red"})
    assert unknown_field.status_code == 400 and "colour" in error_of(unknown_field)["message"]
    with pytest.raises(
        exceptions.NotFound, match="dataset projects/team-a/locations/us-central1/datasets/404 not found"
    ):
        client.get_dataset(name=f"{location}/datasets/404")
    nowhere = call(server, "GET", "projects/team-a/locations/us-central1/nothing")
    assert nowhere.status_code == 404 and error_of(nowhere)["status"] == "NOT_FOUND"

    dataset = client.create_dataset(parent=location, dataset=VIDEO)
    dataset_id = dataset.name.rsplit("/", 1)[1]
    with pytest.raises(exceptions.PreconditionFailed, match="has no videos; import data first"):
        client.create_model(
            parent=location,
            model=automl.Model(display_name="m", dataset_id=dataset_id, video_classification_model_metadata={}),
        )
    too_large = call(server, "POST", f"{location}/datasets", data=json.dumps({"displayName": "x" * 5000}))
    assert too_large.status_code == 413 and "4096 bytes" in error_of(too_large)["message"]
    # Object tracking plugs in through the metadata table now that its task is implemented.
    boxes = client.create_dataset(
        parent=location, dataset=automl.Dataset(display_name="boxes", video_object_tracking_dataset_metadata={})
    )
    assert "video_object_tracking_dataset_metadata" in boxes
    tracking = client.list_datasets(request={"parent": location, "filter": "video_object_tracking_dataset_metadata:*"})
    assert [d.name for d in tracking] == [boxes.name]
    with pytest.raises(exceptions.MethodNotImplemented, match="not part of the AutoML Video API"):
        client.list_table_specs(parent=dataset.name)
    with pytest.raises(exceptions.MethodNotImplemented, match="online prediction"):
        prediction.predict(name=f"{location}/models/1", payload={})
    enum_ints = call(server, "GET", dataset.name, params={"$alt": "proto"})
    assert enum_ints.status_code == 400 and "$alt" in error_of(enum_ints)["message"]

    # 412: an operation that already ended cannot be cancelled.
    deleting = client.delete_dataset(name=client.create_dataset(parent=location, dataset=VIDEO).name)
    deleting.result(timeout=120)
    with pytest.raises(exceptions.PreconditionFailed, match="already ended"):
        client._transport.operations_client.cancel_operation(name=deleting.operation.name)
    waited = call(server, "POST", f"{deleting.operation.name}:wait", json={"timeout": "1s"})
    assert waited.status_code == 200 and waited.json()["done"] is True
    assert waited.json()["response"] == {"@type": "type.googleapis.com/google.protobuf.Empty"}

    # 500: the server's own data is unreadable; the reply names a request id, the log has the trace.
    with Registry(server.registry_url) as registry:
        data_uri = registry.get_dataset(dataset.name).data_uri
    with open(os.path.join(data_uri, "dataset.json"), "w") as f:
        f.write("{broken")
    broken = call(server, "GET", f"{dataset.name}/annotationSpecs/1")
    assert broken.status_code == 500 and error_of(broken)["status"] == "INTERNAL"
    request_id = error_of(broken)["message"].split("request ")[1].split(")")[0]
    assert f"request {request_id}" in server.log() and "Traceback" in server.log()


def test_a_second_change_to_a_dataset_waits_and_a_deleted_one_refuses_more(server, tiny_videos):
    """Import, delete and import again at once: the delete waits for the first import (one lock per
    dataset), and the second import is refused while the delete is pending (409)."""
    client, _ = server.clients("k-team-a")
    dataset = client.create_dataset(parent=parent("team-a"), dataset=VIDEO)
    source = {"gcs_source": {"input_uris": [tiny_videos.import_csv]}}
    first = client.import_data(name=dataset.name, input_config=source)
    deleting = client.delete_dataset(name=dataset.name)
    with pytest.raises(exceptions.Conflict, match="is being deleted"):
        client.import_data(name=dataset.name, input_config=source)
    first.result(timeout=120)
    deleting.result(timeout=120)
    with Registry(server.registry_url) as registry:
        ran = [registry.get_operation(op.operation.name) for op in (first, deleting)]
    assert ran[1].start_time >= ran[0].end_time


def test_a_full_queue_answers_429(server, tiny_videos):
    client, _ = server.clients("k-queue")
    dataset = client.create_dataset(parent=parent("team-q"), dataset=VIDEO)
    source = {"gcs_source": {"input_uris": [tiny_videos.import_csv]}}
    running = client.import_data(name=dataset.name, input_config=source)
    with Registry(server.registry_url) as registry:
        wait_until(lambda: registry.get_operation(running.operation.name).state.value == "RUNNING", 30, "a start")
    waiting = [client.import_data(name=dataset.name, input_config=source) for _ in range(2)]
    with pytest.raises(exceptions.TooManyRequests, match="2 operations waiting"):
        client.import_data(name=dataset.name, input_config=source)
    for operation in [running, *waiting]:
        operation.result(timeout=120)


def test_paths_outside_the_allowed_roots_are_refused_and_never_read(server, tiny_videos, tmp_path):
    client, prediction = server.clients("k-team-a")
    dataset = client.create_dataset(parent=parent("team-a"), dataset=VIDEO)
    with pytest.raises(exceptions.Forbidden, match="/etc/passwd is outside the server's allowed roots"):
        client.import_data(name=dataset.name, input_config={"gcs_source": {"input_uris": ["/etc/passwd"]}})
    with pytest.raises(exceptions.Forbidden, match="outside the server's allowed roots"):
        client.import_data(
            name=dataset.name, input_config={"gcs_source": {"input_uris": [str(tmp_path / ".." / "x.csv")]}}
        )
    with pytest.raises(exceptions.Forbidden):
        client.export_data(name=dataset.name, output_config={"gcs_destination": {"output_uri_prefix": "/tmp/out"}})
    with pytest.raises(exceptions.Forbidden):
        prediction.batch_predict(
            name=f"{parent('team-a')}/models/1",
            input_config={"gcs_source": {"input_uris": ["/etc/hosts"]}},
            output_config={"gcs_destination": {"output_uri_prefix": str(tmp_path)}},
        )

    # Inside the roots: a top-level CSV that lists /etc/passwd, a video reached through a symbolic
    # link that points outside the roots, and one good video. Only the good row is imported.
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    secret_video = outside / "secret.mp4"
    secret_video.write_bytes(open(tiny_videos.videos[0], "rb").read())
    link = tmp_path / "linked.mp4"
    link.symlink_to(secret_video)
    rows = tmp_path / "rows.csv"
    good = tiny_videos.videos[1]
    rows.write_text(f"{link},{tiny_videos.class_names[0]},0,inf\n{good},{tiny_videos.class_names[1]},0,inf\n")
    top = tmp_path / "import.csv"
    top.write_text(f"TRAIN,/etc/passwd\nTRAIN,{rows}\n")
    importing = client.import_data(name=dataset.name, input_config={"gcs_source": {"input_uris": [str(top)]}})
    with pytest.raises(exceptions.GoogleAPICallError, match="nothing imported"):
        importing.result(timeout=120)  # 2 of 3 rows failed: more than the error fraction, so nothing
    failures = {f.message for f in importing.metadata.partial_failures}
    assert any("row 1" in m and "/etc/passwd is outside" in m for m in failures), failures
    assert any(str(link) in m and "outside the server's allowed roots" in m for m in failures), failures
    assert client.get_dataset(name=dataset.name).example_count == 0


def test_without_keys_the_server_refuses_to_leave_loopback(tmp_path, capsys):
    from automl_video.cli import main

    code = main(["serve", "--host", "0.0.0.0", "--workspace", str(tmp_path / "w"), "--port", "1"])
    assert code == 2
    assert "without --api-keys the server only binds to loopback" in capsys.readouterr().err

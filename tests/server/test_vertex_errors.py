"""The Vertex v1 paths answer errors, keys, allowed roots and limits exactly as the v1beta1 ones (the same
checks), through Google's Vertex SDK where it can make the call and plain HTTP where it cannot; the
SDK's exceptions carry the server's message."""

import json

import pytest
import requests
from google.api_core import exceptions
from google.cloud import aiplatform
from google.cloud import automl_v1beta1 as automl

from automl_video.registry import Registry
from tests.server import test_errors_and_security
from tests.server.conftest import parent, use_vertex, wait_until
from tests.server.test_errors_and_security import error_of

VIDEO_SCHEMA = aiplatform.schema.dataset.metadata.video
CLASSIFICATION_IMPORT = aiplatform.schema.dataset.ioformat.video.classification
# The server of the v1beta1 error tests (its keys, roots and limits): both APIs answer the same setup.
server = test_errors_and_security.server


def v1(server, method: str, path: str, key: str | None = "k-team-a", **kwargs) -> requests.Response:
    headers = {"x-goog-api-key": key} if key else {}
    return requests.request(method, f"{server.url}/v1/{path}", headers=headers, timeout=30, **kwargs)


def dataset_body(name: str = "videos") -> dict:
    return {"displayName": name, "metadataSchemaUri": VIDEO_SCHEMA}


def test_keys_projects_and_locations_on_the_v1_paths(server, tiny_videos):
    use_vertex(server, "team-a", "k-team-a")
    dataset = aiplatform.VideoDataset.create(
        display_name="mine", gcs_source=tiny_videos.import_csv, import_schema_uri=CLASSIFICATION_IMPORT
    )
    assert int(aiplatform.VideoDataset(dataset.resource_name).gca_resource.data_item_count) == len(tiny_videos.videos)
    use_vertex(server, "team-b", "k-team-a")
    with pytest.raises(exceptions.Forbidden, match="may not use project 'team-b'"):
        aiplatform.VideoDataset.list()
    use_vertex(server, "team-a", "k-wrong")
    with pytest.raises(exceptions.Unauthorized, match="the API key is not valid"):
        aiplatform.VideoDataset(dataset.resource_name)
    missing = v1(server, "GET", f"{parent('team-a')}/datasets", key=None)
    assert missing.status_code == 401 and error_of(missing)["status"] == "UNAUTHENTICATED"
    elsewhere = v1(server, "POST", "projects/team-a/locations/europe-west4/datasets", json=dataset_body())
    assert elsewhere.status_code == 400 and "europe-west4" in error_of(elsewhere)["message"]
    # Operations: under /v1/ and /ui/ (where the SDK polls), each surface seeing only its own.
    operations = v1(server, "GET", f"{parent('team-a')}/operations").json()["operations"]
    assert {op["metadata"]["@type"] for op in operations} == {
        "type.googleapis.com/google.cloud.aiplatform.v1.CreateDatasetOperationMetadata",
        "type.googleapis.com/google.cloud.aiplatform.v1.ImportDataOperationMetadata",
    }
    ui = requests.get(f"{server.url}/ui/{operations[0]['name']}", headers={"x-goog-api-key": "k-team-a"}, timeout=30)
    assert ui.status_code == 200 and ui.json()["done"] is True
    options = {"api_endpoint": server.url, "api_key": "k-team-a"}
    automl_client = automl.AutoMlClient(transport="rest", client_options=options)
    beta = automl_client.create_dataset(
        parent=parent("team-a"), dataset=automl.Dataset(display_name="beta", video_classification_dataset_metadata={})
    )
    deleting = automl_client.delete_dataset(name=beta.name)
    hidden = v1(server, "GET", deleting.operation.name)
    assert hidden.status_code == 404 and error_of(hidden)["status"] == "NOT_FOUND"
    # The registry is shared: the v1beta1 dataset is a Vertex video dataset too.
    assert v1(server, "GET", beta.name).json()["metadataSchemaUri"] == VIDEO_SCHEMA
    assert "k-team-a" not in server.log()


def test_bodies_are_the_real_protos_and_every_refusal_names_its_field(server, tiny_videos):
    location = parent("team-a")
    unknown = v1(server, "POST", f"{location}/datasets", json={**dataset_body(), "colour": "red"})
    assert unknown.status_code == 400 and "colour" in error_of(unknown)["message"]
    image = v1(
        server,
        "POST",
        f"{location}/datasets",
        json={**dataset_body(), "metadataSchemaUri": aiplatform.schema.dataset.metadata.image},
    )
    assert image.status_code == 400 and "serves video datasets" in error_of(image)["message"]
    too_large = v1(server, "POST", f"{location}/datasets", data=json.dumps({"displayName": "x" * 5000}))
    assert too_large.status_code == 413 and "4096 bytes" in error_of(too_large)["message"]
    missing = v1(server, "GET", f"{location}/models/404")
    assert missing.status_code == 404 and "models/404" in error_of(missing)["message"]
    upload = v1(server, "POST", f"{location}/models:upload", json={})
    assert upload.status_code == 501 and error_of(upload)["status"] == "UNIMPLEMENTED"

    use_vertex(server, "team-a", "k-team-a")
    dataset = aiplatform.VideoDataset.create(display_name="empty")
    dataset_id = dataset.name
    with pytest.raises(exceptions.BadRequest, match="'gs://nothing.yaml' is not a video import schema"):
        dataset.import_data(gcs_source=tiny_videos.import_csv, import_schema_uri="gs://nothing.yaml")
    with pytest.raises(exceptions.BadRequest, match="importConfigs\\[0\\].dataItemLabels is not supported"):
        dataset.import_data(
            gcs_source=tiny_videos.import_csv,
            import_schema_uri=CLASSIFICATION_IMPORT,
            data_item_labels={"aiplatform.googleapis.com/ml_use": "training"},
        )
    with pytest.raises(exceptions.Forbidden, match="/etc/passwd is outside the server's allowed roots"):
        dataset.import_data(gcs_source="/etc/passwd", import_schema_uri=CLASSIFICATION_IMPORT)
    pipeline = {
        "displayName": "p",
        "trainingTaskDefinition": aiplatform.schema.training_job.definition.automl_video_classification,
        "trainingTaskInputs": {"modelType": "MOBILE_VERSATILE_1"},
        "inputDataConfig": {"datasetId": dataset_id},
    }
    empty = v1(server, "POST", f"{location}/trainingPipelines", json=pipeline)
    assert empty.status_code == 412 and "has no videos; import data first" in error_of(empty)["message"]
    coral = {**pipeline, "trainingTaskInputs": {"modelType": "MOBILE_CORAL_VERSATILE_1"}}
    wrong_type = v1(server, "POST", f"{location}/trainingPipelines", json=coral)
    assert wrong_type.status_code == 400 and "object_tracking only" in error_of(wrong_type)["message"]
    misspelled = {**pipeline, "trainingTaskInputs": {"modelTyp": "CLOUD"}}
    typo = v1(server, "POST", f"{location}/trainingPipelines", json=misspelled)
    assert typo.status_code == 400 and "modelTyp" in error_of(typo)["message"]
    tabular = {**pipeline, "trainingTaskDefinition": aiplatform.schema.training_job.definition.automl_tabular}
    not_video = v1(server, "POST", f"{location}/trainingPipelines", json=tabular)
    assert not_video.status_code == 400 and "trainingTaskDefinition" in error_of(not_video)["message"]
    job = {
        "displayName": "j",
        "model": "1",
        "inputConfig": {"instancesFormat": "bigquery", "bigquerySource": {"inputUri": "bq://p.d.t"}},
        "outputConfig": {"predictionsFormat": "jsonl", "gcsDestination": {"outputUriPrefix": "/tmp"}},
    }
    bigquery = v1(server, "POST", f"{location}/batchPredictionJobs", json=job)
    assert bigquery.status_code == 400
    assert "inputConfig.bigquerySource is not supported" in error_of(bigquery)["message"]
    explain = v1(server, "POST", f"{location}/batchPredictionJobs", json={**job, "generateExplanation": True})
    assert "batchPredictionJob.generateExplanation is not supported" in error_of(explain)["message"]


def test_a_full_queue_answers_429_on_v1(server, tiny_videos):
    use_vertex(server, "team-q", "k-queue")
    dataset = aiplatform.VideoDataset.create(display_name="q")
    body = {
        "importConfigs": [{"gcsSource": {"uris": [tiny_videos.import_csv]}, "importSchemaUri": CLASSIFICATION_IMPORT}]
    }
    first = v1(server, "POST", f"{dataset.resource_name}:import", key="k-queue", json=body).json()
    with Registry(server.registry_url) as registry:
        wait_until(lambda: registry.get_operation(first["name"]).state.value == "RUNNING", 30, "a start")
    waiting = [v1(server, "POST", f"{dataset.resource_name}:import", key="k-queue", json=body) for _ in range(2)]
    assert [w.status_code for w in waiting] == [200, 200]
    refused = v1(server, "POST", f"{dataset.resource_name}:import", key="k-queue", json=body)
    assert refused.status_code == 429 and "2 operations waiting" in error_of(refused)["message"]

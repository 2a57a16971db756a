"""Google's unmodified ``google-cloud-automl`` client (``transport="rest"``) against a real server on
loopback: every RPC of the AutoML v1beta1 video API, with real (tiny) training, every operation through
``op.result()``."""

import csv
import json
import os

import pytest
import requests
from google.api_core import exceptions
from google.cloud import automl_v1beta1 as automl
from google.protobuf import json_format

from automl_video import storage
from automl_video.cli import main as cli_main
from automl_video.data import dataset as dataset_lib
from automl_video.registry import Registry
from tests.server.conftest import parent

PROJECT = "team-a"
TRAINING = ("--train-budget-minutes", "0.3")
RESULT_TIMEOUT = 600


def registry_of(server) -> Registry:
    return Registry(server.registry_url)


def dataset_facts(data_uri: str) -> tuple[list[str], set[tuple]]:
    """What makes two datasets the same: their labels, and every video's URI, ML_USE and annotations."""
    dataset = dataset_lib.load(data_uri)
    rows = {(v.uri, v.ml_use.value, a.label, a.start, a.end) for v in dataset.videos for a in v.annotations}
    return sorted(dataset.label_names()), rows


@pytest.mark.slow
def test_the_automl_client_runs_unchanged_from_dataset_to_deletion(start_server, tiny_videos, tmp_path):
    server = start_server(*TRAINING, "--allowed-root", os.path.dirname(tiny_videos.import_csv))
    client, prediction = server.clients()
    location = parent(PROJECT)

    # -- datasets: create (synchronous), import, list with filters and pages, get, annotation specs --
    dataset = client.create_dataset(
        parent=location, dataset=automl.Dataset(display_name="motions", video_classification_dataset_metadata={})
    )
    assert dataset.name.startswith(f"{location}/datasets/") and "/" not in dataset.name.rsplit("/", 1)[1]
    assert "video_classification_dataset_metadata" in dataset
    imported = client.import_data(
        name=dataset.name, input_config={"gcs_source": {"input_uris": [tiny_videos.import_csv]}}
    )
    imported.result(timeout=RESULT_TIMEOUT)
    assert imported.metadata.progress_percent == 100 and "import_data_details" in imported.metadata
    assert imported.metadata.create_time and imported.metadata.update_time
    got = client.get_dataset(name=dataset.name)
    assert got.example_count == len(tiny_videos.videos) and got.display_name == "motions"
    for display_name in ("other1", "other2"):
        client.create_dataset(
            parent=location, dataset=automl.Dataset(display_name=display_name, video_classification_dataset_metadata={})
        )
    pages = list(client.list_datasets(request={"parent": location, "page_size": 2}).pages)
    assert [len(p.datasets) for p in pages] == [2, 1]
    assert [d.display_name for p in pages for d in p.datasets] == ["motions", "other1", "other2"]
    filtered = client.list_datasets(request={"parent": location, "filter": "video_classification_dataset_metadata:*"})
    assert len(list(filtered)) == 3
    assert not list(
        client.list_datasets(request={"parent": location, "filter": "video_object_tracking_dataset_metadata:*"})
    )
    with pytest.raises(exceptions.BadRequest, match="unknown field 'image_classification_dataset_metadata'"):
        list(client.list_datasets(request={"parent": location, "filter": "image_classification_dataset_metadata:*"}))
    by_name = client.list_datasets(request={"parent": location, "filter": 'display_name="motions"'})
    assert [d.name for d in by_name] == [dataset.name]
    spec = client.get_annotation_spec(name=f"{dataset.name}/annotationSpecs/1")
    assert spec.display_name in tiny_videos.class_names and spec.example_count > 0

    # -- models: create (real training), get, list with filters ------------------------------------
    dataset_id = dataset.name.rsplit("/", 1)[1]
    creating = client.create_model(
        parent=location,
        model=automl.Model(display_name="motions_v1", dataset_id=dataset_id, video_classification_model_metadata={}),
    )
    model = creating.result(timeout=RESULT_TIMEOUT)
    assert model.display_name == "motions_v1" and model.dataset_id == dataset_id
    assert model.deployment_state == automl.Model.DeploymentState.UNDEPLOYED
    assert "create_model_details" in creating.metadata
    assert client.get_model(name=model.name) == model
    assert [m.name for m in client.list_models(request={"parent": location, "filter": f"dataset_id={dataset_id}"})] == [
        model.name
    ]
    assert len(
        list(client.list_models(request={"parent": location, "filter": "video_classification_model_metadata:*"}))
    )
    assert not list(client.list_models(request={"parent": location, "filter": "dataset_id=999"}))
    raw = requests.get(f"{server.url}/v1beta1/{model.name}", params={"$alt": "json;enum-encoding=int"}).json()
    assert raw["deploymentState"] == 2  # UNDEPLOYED as an integer when the client asks for integers
    assert requests.get(f"{server.url}/v1beta1/{model.name}").json()["deploymentState"] == "UNDEPLOYED"

    # -- batch prediction, model and data exports start now and run in workers while the test evaluates --
    inputs = tmp_path / "predict.csv"
    inputs.write_text("".join(f"{uri},0,inf\n" for uri in tiny_videos.videos[:3]))
    predicting = prediction.batch_predict(
        name=model.name,
        input_config={"gcs_source": {"input_uris": [str(inputs)]}},
        output_config={"gcs_destination": {"output_uri_prefix": str(tmp_path / "predictions")}},
        params={"score_threshold": "0.0", "1s_interval_classification": "true"},
    )
    export = client.export_model(
        name=model.name,
        output_config={"model_format": "tflite", "gcs_destination": {"output_uri_prefix": str(tmp_path / "models")}},
    )
    exporting = client.export_data(
        name=dataset.name, output_config={"gcs_destination": {"output_uri_prefix": str(tmp_path / "exports")}}
    )

    # -- evaluations: the values `automl-video evaluate` writes for the same model and split ------------
    work = os.path.join(server.workspace, "operations", creating.operation.name.rsplit("/", 1)[1])
    cli_out = str(tmp_path / "cli-evaluation")
    assert cli_main(["evaluate", "--model", f"{work}/model", "--dataset", f"{work}/dataset", "--output", cli_out]) == 0
    written = json.loads(storage.read_text(f"{cli_out}/evaluations.json"))
    overall = list(client.list_model_evaluations(request={"parent": model.name, "filter": "NOT annotation_spec_id:*"}))
    per_label = list(client.list_model_evaluations(request={"parent": model.name, "filter": "annotation_spec_id:*"}))
    assert len(overall) == 1 and overall[0].annotation_spec_id == ""
    assert sorted(e.annotation_spec_id for e in per_label) == sorted(d["annotationSpecId"] for d in written[1:])
    for served in [*overall, *per_label]:
        document = next(d for d in written if d["annotationSpecId"] == served.annotation_spec_id)
        expected = automl.ModelEvaluation()
        json_format.ParseDict(document, automl.ModelEvaluation.pb(expected), ignore_unknown_fields=False)
        assert served.classification_evaluation_metrics == expected.classification_evaluation_metrics
        assert served.evaluated_example_count == expected.evaluated_example_count
        assert served.display_name == expected.display_name
        assert client.get_model_evaluation(name=served.name) == served
    one = list(client.list_model_evaluations(request={"parent": model.name, "filter": "annotation_spec_id=1"}))
    assert [e.annotation_spec_id for e in one] == ["1"]

    # -- batch prediction: AutoML CSV + one JSON of AnnotationPayloads per row -------------------------
    assert isinstance(predicting.result(timeout=RESULT_TIMEOUT), automl.BatchPredictResult)
    details = predicting.metadata.batch_predict_details
    assert list(details.input_config.gcs_source.input_uris) == [str(inputs)]
    output_dir = details.output_info.gcs_output_directory
    with open(os.path.join(output_dir, "video_classification.csv")) as f:
        rows = list(csv.reader(f))
    assert len(rows) == 3 and all(row[-1] == "OK" for row in rows)
    for row in rows:
        payload = json.loads(storage.read_text(os.path.join(output_dir, row[3])))
        annotations = payload if isinstance(payload, list) else payload["annotations"]
        for annotation in annotations:
            message = automl.AnnotationPayload()
            json_format.ParseDict(annotation, automl.AnnotationPayload.pb(message), ignore_unknown_fields=False)
            assert message.display_name in tiny_videos.class_names

    # -- export data: AutoML CSVs that import again into the same dataset ------------------------------
    exporting.result(timeout=RESULT_TIMEOUT)
    exported = exporting.metadata.export_data_details.output_info.gcs_output_directory
    with open(os.path.join(exported, "dataset.csv")) as f:
        listed = list(csv.reader(f))
    assert {row[0] for row in listed} <= {"TRAIN", "TEST", "UNASSIGNED"} and len(listed) >= 2
    again = client.create_dataset(
        parent=location, dataset=automl.Dataset(display_name="motions_again", video_classification_dataset_metadata={})
    )
    client.import_data(
        name=again.name, input_config={"gcs_source": {"input_uris": [os.path.join(exported, "dataset.csv")]}}
    ).result(timeout=RESULT_TIMEOUT)
    with registry_of(server) as registry:
        original, copy = (registry.get_dataset(n).data_uri for n in (dataset.name, again.name))
    assert dataset_facts(copy) == dataset_facts(original)

    # -- export model: the formats its model type allows ------------------------------------------------
    export.result(timeout=RESULT_TIMEOUT)
    export_dir = export.metadata.export_model_details.output_info.gcs_output_directory
    assert any(name.endswith(".tflite") for name in os.listdir(export_dir))
    with pytest.raises(exceptions.BadRequest, match="model_format 'core_ml'"):
        client.export_model(
            name=model.name,
            output_config={"model_format": "core_ml", "gcs_destination": {"output_uri_prefix": str(tmp_path)}},
        )

    # -- deploy / undeploy, predict refused ----------------------------------------------------------------
    client.deploy_model(name=model.name).result(timeout=RESULT_TIMEOUT)
    assert client.get_model(name=model.name).deployment_state == automl.Model.DeploymentState.DEPLOYED
    client.undeploy_model(name=model.name).result(timeout=RESULT_TIMEOUT)
    assert client.get_model(name=model.name).deployment_state == automl.Model.DeploymentState.UNDEPLOYED
    with pytest.raises(exceptions.MethodNotImplemented, match="online prediction is not available"):
        prediction.predict(name=model.name, payload={})

    # -- delete: operations, and ids never come back -------------------------------------------------------
    deleting = client.delete_model(name=model.name)
    deleting.result(timeout=RESULT_TIMEOUT)
    assert "delete_details" in deleting.metadata
    with pytest.raises(exceptions.NotFound):
        client.get_model(name=model.name)
    client.delete_dataset(name=dataset.name).result(timeout=RESULT_TIMEOUT)
    with pytest.raises(exceptions.NotFound):
        client.get_dataset(name=dataset.name)
    newest = client.create_dataset(
        parent=location, dataset=automl.Dataset(display_name="after", video_classification_dataset_metadata={})
    )
    known = {dataset.name, again.name} | {d.name for p in pages for d in p.datasets}
    assert newest.name not in known
    operations = client._transport.operations_client.list_operations(name=location, filter_="done=true")
    assert len(list(operations)) >= 10
    assert "any-key" not in server.log() and "loopback only" in server.log()

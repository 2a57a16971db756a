"""The Vertex SDK's model registry calls against a real server, on models registered the way a training
registers them (the registry, with AutoML-shaped evaluations), so each call is checked in seconds: version
references (``@version``, ``@alias``, ``%40``), aliases merged and removed, ordering and pages, evaluations
in Vertex's metrics schema and their per-label slices, and the refusals."""

import os

import pytest
import requests
from google.api_core import exceptions
from google.cloud import aiplatform

from automl_video.registry import NewModelEvaluation, Registry
from tests.server.conftest import LOCATION, use_vertex

PROJECT = "team-m"
LABELS = ["left_to_right", "right_to_left"]


def automl_metrics(au_prc: float) -> dict:
    """``ClassificationEvaluationMetrics`` as ``evaluations.json`` stores them."""
    return {
        "auPrc": au_prc,
        "confidenceMetricsEntry": [
            {"confidenceThreshold": 0.5, "recall": 1.0, "precision": 0.5, "positionThreshold": 1}
        ],
        "confusionMatrix": {
            "annotationSpecId": ["1", "2"],
            "displayName": LABELS,
            "row": [{"exampleCount": [2, 0]}, {"exampleCount": [1, 1]}],
        },
    }


def evaluations() -> list[NewModelEvaluation]:
    overall = NewModelEvaluation(metrics=automl_metrics(0.75), evaluated_example_count=4)
    per_label = [
        NewModelEvaluation(metrics=automl_metrics(0.5 + i / 4), display_name=label, annotation_spec_id=str(i + 1))
        for i, label in enumerate(LABELS)
    ]
    return [overall, *per_label]


@pytest.fixture
def server(start_server, tiny_videos, tmp_path):
    server = start_server("--allowed-root", os.path.dirname(tiny_videos.import_csv))
    with Registry(server.registry_url) as registry:
        first = registry.upload_model(
            PROJECT,
            LOCATION,
            display_name="b-motions",
            artifact_uri=str(tmp_path / "v1"),
            model_type="MOBILE_VERSATILE_1",
            version_aliases=["first"],
            evaluations=evaluations(),
        )
        registry.upload_model(
            PROJECT,
            LOCATION,
            display_name="b-motions",
            artifact_uri=str(tmp_path / "v2"),
            model_type="MOBILE_VERSATILE_1",
            parent_model=first.name,
            is_default_version=False,
            version_aliases=["second"],
            evaluations=evaluations(),
        )
        registry.upload_model(
            PROJECT, LOCATION, display_name="a-cloud", artifact_uri=str(tmp_path / "cloud"), model_type="CLOUD"
        )
    use_vertex(server, PROJECT)
    server.model_name = first.name
    return server


def test_versions_aliases_order_and_pages(server):
    name = server.model_name
    assert aiplatform.Model(name).version_id == "1"
    assert aiplatform.Model(name, version="2").version_aliases == ["second"]
    assert aiplatform.Model(f"{name}@second").version_id == "2"
    for reference in (f"{name}@first", f"{name}%40first"):
        assert requests.get(f"{server.url}/v1/{reference}", timeout=30).json()["versionId"] == "1"
    registry = aiplatform.Model(name).versioning_registry
    assert [v.version_id for v in registry.list_versions()] == ["1", "2"]
    registry.add_version_aliases(["golden"], version="2")
    assert aiplatform.Model(name, version="golden").version_id == "2"
    registry.remove_version_aliases(["golden"], version="2")
    with pytest.raises(exceptions.NotFound):
        aiplatform.Model(name, version="golden")
    with pytest.raises(exceptions.PreconditionFailed, match="is the default version"):
        registry.delete_version("1")

    assert [m.display_name for m in aiplatform.Model.list(order_by="display_name")] == ["a-cloud", "b-motions"]
    assert [m.display_name for m in aiplatform.Model.list(order_by="display_name desc")] == ["b-motions", "a-cloud"]
    assert [m.display_name for m in aiplatform.Model.list(filter='display_name="a-cloud"')] == ["a-cloud"]
    first_page = requests.get(
        f"{server.url}/v1/projects/{PROJECT}/locations/{LOCATION}/models", params={"pageSize": 1}
    ).json()
    assert len(first_page["models"]) == 1 and first_page["nextPageToken"]
    bad_order = requests.get(
        f"{server.url}/v1/projects/{PROJECT}/locations/{LOCATION}/models", params={"orderBy": "colour"}, timeout=30
    )
    assert bad_order.status_code == 400 and "colour" in bad_order.json()["error"]["message"]

    cloud = next(m for m in aiplatform.Model.list() if m.display_name == "a-cloud")
    refused = requests.post(
        f"{server.url}/v1/{cloud.resource_name}:export",
        json={"outputConfig": {"exportFormatId": "tflite", "artifactDestination": {"outputUriPrefix": "/tmp"}}},
        timeout=30,
    )
    assert refused.status_code == 412 and "CLOUD model, which cannot be exported" in refused.json()["error"]["message"]
    with pytest.raises(ValueError):  # the SDK's own check: a CLOUD model lists no export formats
        cloud.export_model(export_format_id="tflite", artifact_destination="/tmp")


def test_evaluations_in_the_vertex_schema_with_one_slice_per_label(server):
    model = aiplatform.Model(server.model_name, version="second")
    (evaluation,) = model.list_model_evaluations()
    metrics = evaluation.metrics
    assert metrics["auPrc"] == 0.75
    assert metrics["confidenceMetrics"] == [
        {"confidenceThreshold": 0.5, "recall": 1.0, "precision": 0.5, "maxPredictions": 1}
    ]
    assert metrics["confusionMatrix"] == {
        "annotationSpecs": [{"id": "1", "displayName": LABELS[0]}, {"id": "2", "displayName": LABELS[1]}],
        "rows": [[2, 0], [1, 1]],
    }
    assert evaluation.resource_name.startswith(f"{server.model_name}/evaluations/")
    assert model.get_model_evaluation(evaluation.name).resource_name == evaluation.resource_name
    slices = requests.get(f"{server.url}/v1/{evaluation.resource_name}/slices", timeout=30).json()[
        "modelEvaluationSlices"
    ]
    assert [(s["slice"]["dimension"], s["slice"]["value"]) for s in slices] == [
        ("annotationSpec", label) for label in LABELS
    ]
    assert [s["metrics"]["auPrc"] for s in slices] == [0.5, 0.75]
    one = requests.get(f"{server.url}/v1/{slices[1]['name']}", timeout=30).json()
    assert one == slices[1]
    label_as_evaluation = f"{server.model_name}/evaluations/{slices[0]['name'].rsplit('/', 1)[1]}"
    missing = requests.get(f"{server.url}/v1/{label_as_evaluation}", timeout=30)
    assert missing.status_code == 404  # a label's evaluation is a slice, never an evaluation of its own


def test_a_dataset_exports_files_that_import_again(server, tiny_videos, tmp_path):
    """``VideoDataset.export_data`` writes AutoML CSVs (the Vertex import reads them as well) and lists
    them; imported into a new dataset they give the same videos."""
    dataset = aiplatform.VideoDataset.create(
        display_name="motions",
        gcs_source=tiny_videos.import_csv,
        import_schema_uri=aiplatform.schema.dataset.ioformat.video.classification,
    )
    exported = dataset.export_data(output_dir=str(tmp_path / "exports"))
    top_level = next(uri for uri in exported if uri.endswith("/dataset.csv"))
    assert all(uri.startswith(str(tmp_path / "exports")) for uri in exported) and len(exported) >= 2
    again = aiplatform.VideoDataset.create(
        display_name="again",
        gcs_source=top_level,
        import_schema_uri=aiplatform.schema.dataset.ioformat.video.classification,
    )
    counts = {int(aiplatform.VideoDataset(d.resource_name).gca_resource.data_item_count) for d in (dataset, again)}
    assert counts == {len(tiny_videos.videos)}


def test_a_job_that_cannot_start_fails_with_its_reason(server, tiny_videos, tmp_path):
    """The model folder of ``a-cloud`` was never written: the job ends FAILED saying so, and the SDK raises."""
    cloud = next(m for m in aiplatform.Model.list() if m.display_name == "a-cloud")
    instances = tmp_path / "instances.jsonl"
    instances.write_text(f'{{"content": "{tiny_videos.videos[0]}", "mimeType": "video/mp4"}}\n')
    with pytest.raises(RuntimeError, match="cloud"):
        aiplatform.BatchPredictionJob.create(
            job_display_name="doomed",
            model_name=cloud.resource_name,
            gcs_source=str(instances),
            gcs_destination_prefix=str(tmp_path / "out"),
            sync=True,
        )
    (job,) = aiplatform.BatchPredictionJob.list()
    assert job.state == aiplatform.gapic.JobState.JOB_STATE_FAILED and "cloud" in job.error.message

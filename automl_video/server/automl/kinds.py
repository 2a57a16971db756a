"""The AutoML v1beta1 operations as worker processes run them: the library stages the CLI runs, training
and batch prediction through the SDK's backends (the local runner, or the KFP pipelines with
``--backend kfp:HOST``) on the training pipeline / batch prediction job the handler registered.

Each kind is idempotent, so a worker that resumes after its server died picks up where the last one
stopped: an import is all or nothing, training resumes from its checkpoint (same work folder), batch
prediction from its finished rows (same output prefix), and a model already registered by the operation
is not registered twice. ``cleanup`` removes what a cancelled run half-wrote.
"""

import enum
import logging

from google.cloud import automl_v1beta1 as automl

from automl_video.data.export import export_automl_csv
from automl_video.server import jobs, wire
from automl_video.server.automl import resources
from automl_video.server.surface import OperationKind, OperationOutcome, OperationRun

log = logging.getLogger(__name__)

# ``ModelExportOutputConfig.model_format`` of video models -> automl-video's export format.
EXPORT_FORMATS = {"tflite": "tflite", "tf_saved_model": "tf-saved-model"}
# ``BatchPredictRequest.params`` a prediction type takes, checked when the request arrives; the task
# checks the others' in the worker (its parameter parser loads TensorFlow).
PREDICT_PARAMS = {
    "classification": (
        "score_threshold",
        "segment_classification",
        "shot_classification",
        "1s_interval_classification",
    ),
}


class Kind(enum.StrEnum):
    IMPORT_DATA = "import_data"
    EXPORT_DATA = "export_data"
    DELETE_DATASET = "delete_dataset"
    CREATE_MODEL = "create_model"
    DELETE_MODEL = "delete_model"
    DEPLOY_MODEL = "deploy_model"
    UNDEPLOY_MODEL = "undeploy_model"
    EXPORT_MODEL = "export_model"
    BATCH_PREDICT = "batch_predict"


# -- datasets -----------------------------------------------------------------------------------------


def import_data(run: OperationRun) -> OperationOutcome:
    request = wire.parse_dict(run.record.request, automl.ImportDataRequest)
    exhaustive = request.input_config.params.get("is_exhaustively_labeled", "false").lower() == "true"
    failures = jobs.import_files(run, request.name, list(request.input_config.gcs_source.input_uris), exhaustive)
    return OperationOutcome(jobs.EMPTY, failures)


def export_data(run: OperationRun) -> OperationOutcome:
    dataset = run.registry.get_dataset(wire.parse_dict(run.record.request, automl.ExportDataRequest).name)
    export_automl_csv(dataset.data_uri, run.record.work["output_dir"])
    return OperationOutcome(jobs.EMPTY)


# -- models --------------------------------------------------------------------------------------------


def create_model(run: OperationRun) -> OperationOutcome:
    from automl_video.sdk import backends

    def plan() -> backends.TrainingPlan:
        request = wire.parse_dict(run.record.request, automl.CreateModelRequest)
        dataset = run.registry.get_dataset(run.record.target)
        return backends.TrainingPlan(
            project=dataset.project,
            location=dataset.location,
            display_name=request.model.display_name,
            work_uri=run.record.work["work_uri"],
            dataset_name=dataset.name,
            dataset_uri=dataset.data_uri,
            import_sources=list(dataset.metadata.get("importSources", [])),
            model_type=run.config.model_type,
            prediction_type=dataset.prediction_type,
            training_fraction=None,
            test_fraction=None,
            filter_split=None,
            model_display_name=request.model.display_name,
            model_labels={},
            model_id=None,
            parent_model=None,
            is_default_version=True,
            version_aliases=[],
            version_description="",
            budget_minutes=run.config.train_budget_minutes,
        )

    model = jobs.train(run, plan)
    return OperationOutcome(wire.packed(resources.model_message(model)))


def _deployment(state: str):
    def set_state(run: OperationRun) -> OperationOutcome:
        run.registry.update_model(run.record.target, metadata={resources.DEPLOYMENT_STATE: state})
        return OperationOutcome(jobs.EMPTY)

    return set_state


def export_model(run: OperationRun) -> OperationOutcome:
    from automl_video.modeling.export import export_model as export

    request = wire.parse_dict(run.record.request, automl.ExportModelRequest)
    model = run.registry.get_model(request.name)
    config = request.output_config
    export(
        model.artifact_uri,
        EXPORT_FORMATS[config.model_format or "tflite"],
        run.record.work["output_dir"],
        quantize=config.params.get("quantize", "none"),
    )
    return OperationOutcome(jobs.EMPTY)


# -- prediction ----------------------------------------------------------------------------------------


def batch_predict(run: OperationRun) -> OperationOutcome:
    from automl_video.prediction.engine import prediction_params
    from automl_video.sdk import backends

    request = wire.parse_dict(run.record.request, automl.BatchPredictRequest)

    def plan() -> backends.PredictionPlan:
        model = run.registry.get_model(request.name)
        params = dict(request.params)
        return backends.PredictionPlan(
            display_name=model.display_name,
            model_uri=model.artifact_uri,
            inputs=list(request.input_config.gcs_source.input_uris),
            output_prefix=request.output_config.gcs_destination.output_uri_prefix.rstrip("/"),
            model_parameters=params,
            params=prediction_params(model.artifact_uri, params),
            shards=1,
            guard=run.roots.guard(),
        )

    job = jobs.predict(run, plan)
    output = job.output_info["gcsOutputDirectory"]
    details = {
        "batchPredictDetails": {
            **run.record.details["batchPredictDetails"],
            "outputInfo": {"gcsOutputDirectory": output},
        }
    }
    return OperationOutcome(wire.packed(automl.BatchPredictResult()), job.partial_failures, details)


KINDS = {
    Kind.IMPORT_DATA: OperationKind(import_data),
    Kind.EXPORT_DATA: OperationKind(export_data, jobs.remove_output),
    Kind.DELETE_DATASET: OperationKind(jobs.delete_dataset),
    Kind.CREATE_MODEL: OperationKind(create_model, jobs.cancel_training, jobs.training_progress),
    Kind.DELETE_MODEL: OperationKind(jobs.delete_model),
    Kind.DEPLOY_MODEL: OperationKind(_deployment("DEPLOYED")),
    Kind.UNDEPLOY_MODEL: OperationKind(_deployment("UNDEPLOYED")),
    Kind.EXPORT_MODEL: OperationKind(export_model, jobs.remove_output),
    Kind.BATCH_PREDICT: OperationKind(batch_predict, jobs.cancel_prediction),
}

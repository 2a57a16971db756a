"""The Vertex v1 operations as worker processes run them: the same library stages and SDK backends as
AutoML v1beta1's (:mod:`automl_video.server.jobs`), read from Vertex requests and registry records.

``train`` and ``batch_predict`` are the runs behind a training pipeline and a batch prediction job
(Vertex shows the job, not the operation); cancelling the job cancels them.
"""

import enum

from google.cloud import aiplatform_v1 as vertex

from automl_video.data.export import export_automl_csv
from automl_video.registry import names
from automl_video.registry.versions import DEFAULT_ALIAS
from automl_video.sdk.datasets import prediction_type_of
from automl_video.server import jobs, wire
from automl_video.server.surface import OperationKind, OperationOutcome, OperationRun
from automl_video.server.vertex import resources

# ``exportFormatId`` of video models (``Model.supportedExportFormats``).
EXPORT_FORMATS = ("tflite", "tf-saved-model")


class Kind(enum.StrEnum):
    CREATE_DATASET = "create_dataset"
    IMPORT_DATA = "import_data"
    EXPORT_DATA = "export_data"
    DELETE_DATASET = "delete_dataset"
    TRAIN = "train"
    DELETE_MODEL = "delete_model"
    DELETE_MODEL_VERSION = "delete_model_version"
    EXPORT_MODEL = "export_model"
    BATCH_PREDICT = "batch_predict"
    DELETE_JOB = "delete_job"


def create_dataset(run: OperationRun) -> OperationOutcome:
    """The handler registered the dataset; the operation answers it (Vertex's CreateDataset is an operation)."""
    return OperationOutcome(wire.packed(resources.dataset_message(run.registry.get_dataset(run.record.target))))


def import_data(run: OperationRun) -> OperationOutcome:
    """All import configs at once (the handler checked they share one prediction type), all or nothing."""
    request = wire.parse_dict(run.record.request, vertex.ImportDataRequest)
    sources = [uri for config in request.import_configs for uri in config.gcs_source.uris]
    prediction_type = prediction_type_of(request.import_configs[0].import_schema_uri)
    failures = jobs.import_files(run, request.name, sources, exhaustive=False, prediction_type=prediction_type)
    return OperationOutcome(wire.packed(vertex.ImportDataResponse()), failures)


def export_data(run: OperationRun) -> OperationOutcome:
    """AutoML import CSVs (which import again, Vertex's import reading them too); the files it wrote."""
    dataset = run.registry.get_dataset(run.record.target)
    export = export_automl_csv(dataset.data_uri, run.record.work["output_dir"])
    files = [export.top_level_uri, *export.csv_uris.values()]
    return OperationOutcome(wire.packed(vertex.ExportDataResponse(exported_files=files)))


def train(run: OperationRun) -> OperationOutcome:
    from automl_video.sdk import backends
    from automl_video.sdk.data_filters import DataFilter, FilterSplit

    def plan() -> backends.TrainingPlan:
        pipeline = run.registry.get_training_pipeline(run.record.target)
        dataset = run.registry.get_dataset(
            names.resource_name(pipeline.project, pipeline.location, names.DATASETS, pipeline.dataset_id)
        )
        config = wire.parse_dict(pipeline.input_data_config, vertex.InputDataConfig)
        training = test = None
        filters = None
        if "fraction_split" in config:
            training, test = config.fraction_split.training_fraction, config.fraction_split.test_fraction
        elif "filter_split" in config:
            filters = FilterSplit(
                DataFilter.parse(config.filter_split.training_filter, "trainingFilter"),
                DataFilter.parse(config.filter_split.test_filter, "testFilter"),
            )
        model = pipeline.model_to_upload
        aliases = list(model.get("versionAliases", []))
        return backends.TrainingPlan(
            project=pipeline.project,
            location=pipeline.location,
            display_name=pipeline.display_name,
            work_uri=run.record.work["work_uri"],
            dataset_name=dataset.name,
            dataset_uri=dataset.data_uri,
            import_sources=list(dataset.metadata.get("importSources", [])),
            model_type=pipeline.training_task_inputs["modelType"],
            prediction_type=dataset.prediction_type,
            training_fraction=training,
            test_fraction=test,
            filter_split=filters,
            model_display_name=model.get("displayName", pipeline.display_name),
            model_labels=dict(model.get("labels", {})),
            model_id=pipeline.model_id,
            parent_model=pipeline.parent_model,
            is_default_version=DEFAULT_ALIAS in aliases,
            version_aliases=[a for a in aliases if a != DEFAULT_ALIAS],
            version_description=model.get("versionDescription", ""),
            budget_minutes=run.config.train_budget_minutes,
        )

    registered = jobs.train(run, plan)
    return OperationOutcome(wire.packed(resources.model_message(registered)))


def delete_model_version(run: OperationRun) -> OperationOutcome:
    model = run.registry.get_model(run.record.target)
    run.registry.delete_model_version(model.versioned_name)
    jobs.remove_if_in_workspace(run.config, model.artifact_uri)
    return OperationOutcome(jobs.EMPTY)


def export_model(run: OperationRun) -> OperationOutcome:
    from automl_video.modeling.export import export_model as export

    request = wire.parse_dict(run.record.request, vertex.ExportModelRequest)
    model = run.registry.get_model(run.record.work["model"])
    export(model.artifact_uri, request.output_config.export_format_id, run.record.work["output_dir"])
    return OperationOutcome(wire.packed(vertex.ExportModelResponse()))


def batch_predict(run: OperationRun) -> OperationOutcome:
    from automl_video.prediction.engine import prediction_params
    from automl_video.sdk import backends

    def plan() -> backends.PredictionPlan:
        job = run.registry.get_batch_prediction_job(run.record.target)
        model = run.registry.get_model(job.model if "@" in job.model else f"{job.model}@{job.model_version_id}")
        return backends.PredictionPlan(
            display_name=job.display_name,
            model_uri=model.artifact_uri,
            inputs=list(job.input_config["gcsSource"]["uris"]),
            output_prefix=job.output_config["gcsDestination"]["outputUriPrefix"],
            model_parameters=dict(job.model_parameters),
            params=prediction_params(model.artifact_uri, dict(job.model_parameters)),
            shards=int(run.record.work.get("shards", 1)),
            guard=run.roots.guard(),
        )

    finished = jobs.predict(run, plan)
    return OperationOutcome(wire.packed(resources.batch_prediction_job_message(finished)), finished.partial_failures)


def delete_job(run: OperationRun) -> OperationOutcome:
    run.registry.delete_job(run.record.target)
    return OperationOutcome(jobs.EMPTY)


KINDS = {
    Kind.CREATE_DATASET: OperationKind(create_dataset),
    Kind.IMPORT_DATA: OperationKind(import_data),
    Kind.EXPORT_DATA: OperationKind(export_data, jobs.remove_output),
    Kind.DELETE_DATASET: OperationKind(jobs.delete_dataset),
    Kind.TRAIN: OperationKind(train, jobs.cancel_training, jobs.training_progress),
    Kind.DELETE_MODEL: OperationKind(jobs.delete_model),
    Kind.DELETE_MODEL_VERSION: OperationKind(delete_model_version),
    Kind.EXPORT_MODEL: OperationKind(export_model, jobs.remove_output),
    Kind.BATCH_PREDICT: OperationKind(batch_predict, jobs.cancel_prediction),
    Kind.DELETE_JOB: OperationKind(delete_job),
}

"""The Vertex AI v1 methods (``DatasetService``, ``PipelineService`` training pipelines, ``ModelService``,
``JobService`` batch prediction jobs) as the REST transport of ``google-cloud-aiplatform`` calls them.

Bodies parse into the real ``aiplatform_v1`` messages (an unknown or misspelled field is a 400 naming
it), every URI must be under an allowed root, and what Vertex offers but automl-video does not (BigQuery,
explanations, container images, non-video schemas) is refused naming the field. A training pipeline or
batch prediction job is registered at once and run by an operation of this surface in a worker (the
same machinery as AutoML v1beta1's CreateModel and BatchPredict); its state is the job's.
"""

import uuid
from collections.abc import Callable

from google.cloud import aiplatform_v1 as vertex
from google.cloud.aiplatform.v1.schema.predict import params_v1
from google.cloud.aiplatform.v1.schema.trainingjob import definition_v1
from google.longrunning import operations_pb2
from google.protobuf import empty_pb2, json_format

from automl_video import storage
from automl_video.data.splits import validate_fractions
from automl_video.modeling.metadata import ModelType, parse_model_type
from automl_video.registry import ModelRecord, names, versions
from automl_video.registry.resources import TRAINING_TASK_DEFINITIONS, VIDEO_DATASET_SCHEMA
from automl_video.registry.states import is_terminal
from automl_video.rpc import Code
from automl_video.sdk.data_filters import DataFilter
from automl_video.sdk.datasets import prediction_type_of
from automl_video.server import calls, jobs, wire
from automl_video.server.errors import ApiError, invalid
from automl_video.server.surface import Call, Route
from automl_video.server.vertex import resources
from automl_video.server.vertex.kinds import EXPORT_FORMATS, Kind
from automl_video.tasks import TASK_MODULES

_PREDICTION_TYPES_BY_DEFINITION = {definition: t for t, definition in TRAINING_TASK_DEFINITIONS.items()}
# ``modelParameters`` of each prediction type, parsed by its Vertex schema message (unknown keys refused);
# the task checks the values in the worker (its parser loads TensorFlow).
_PARAMETER_MESSAGES = {
    "classification": params_v1.VideoClassificationPredictionParams,
    "object_tracking": params_v1.VideoObjectTrackingPredictionParams,
    "action_recognition": params_v1.VideoActionRecognitionPredictionParams,
}
# ``trainingTaskInputs`` of each prediction type (its Vertex definition message).
_TASK_INPUT_MESSAGES = {
    "classification": definition_v1.AutoMlVideoClassificationInputs,
    "object_tracking": definition_v1.AutoMlVideoObjectTrackingInputs,
    "action_recognition": definition_v1.AutoMlVideoActionRecognitionInputs,
}


def _queue(call: Call, kind: Kind, target: str, request: object, details: dict | None = None, **options):
    return calls.queue(
        call, resources.API, resources.render_operation, kind.value, target, request, details or {}, **options
    )


def _refuse_fields(message, what: str, refused: dict[str, str]) -> None:
    """400 for the first field of ``message`` set among ``refused`` (field -> what to do instead)."""
    for field, _ in wire.pb(message).ListFields():
        if field.name in refused:
            raise invalid(f"{what}.{field.json_name} is not supported by automl-video; {refused[field.name]}")


def _display_name(value: str, what: str) -> str:
    if not value or len(value) > 128:
        raise invalid(f"{what}.displayName {value!r}: give 1 to 128 characters")
    return value


def _model_ref(call: Call, key: str = "model") -> str:
    """The model the path names: ``models/ID``, ``models/ID@VERSION`` or ``models/ID@ALIAS`` (``%40`` too)."""
    return calls.resource_name(call, names.MODELS, key)


def _expand_model(call: Call, reference: str, what: str) -> str:
    """A model reference in a body (full name or ID, optional ``@version``), kept in the path's project."""
    if not reference:
        raise invalid(f"{what} is required")
    expanded = names.expand(reference, names.MODELS, call.project, call.location)
    parsed = names.parse(expanded.split("@", 1)[0])
    if (parsed.project, parsed.location) != (call.project, call.location):
        raise invalid(f"{what} {reference!r} is not in projects/{call.project}/locations/{call.location}")
    return expanded


# -- datasets -----------------------------------------------------------------------------------------


def create_dataset(call: Call) -> operations_pb2.Operation:
    dataset = wire.parse_body(call.body, vertex.Dataset)
    _display_name(dataset.display_name, "dataset")
    if dataset.metadata_schema_uri != VIDEO_DATASET_SCHEMA:
        raise invalid(
            f"dataset.metadataSchemaUri {dataset.metadata_schema_uri!r}: automl-video serves video datasets "
            f"({VIDEO_DATASET_SCHEMA})"
        )
    _refuse_fields(dataset, "dataset", {"encryption_spec": "data is encrypted by its storage"})
    record = call.server.registry.create_dataset(
        call.project,
        call.location,
        display_name=dataset.display_name,
        description=dataset.description,
        labels=dict(dataset.labels),
        # The first import's schema sets the prediction type (see kinds.import_data).
        data_uri=storage.join(call.server.config.workspace, "datasets", uuid.uuid4().hex),
    )
    request = vertex.CreateDatasetRequest(parent=names.location_path(call.project, call.location), dataset=dataset)
    return _queue(call, Kind.CREATE_DATASET, record.name, request)


def get_dataset(call: Call) -> vertex.Dataset:
    return resources.dataset_message(
        call.server.registry.get_dataset(calls.resource_name(call, names.DATASETS, "dataset"))
    )


def list_datasets(call: Call) -> vertex.ListDatasetsResponse:
    page = call.server.registry.list_datasets(call.project, call.location, **calls.list_options(call, order_by=True))
    return vertex.ListDatasetsResponse(
        datasets=[resources.dataset_message(r) for r in page.items], next_page_token=page.next_page_token
    )


def delete_dataset(call: Call) -> operations_pb2.Operation:
    name = calls.resource_name(call, names.DATASETS, "dataset")
    call.server.registry.get_dataset(name)
    return _queue(call, Kind.DELETE_DATASET, name, vertex.DeleteDatasetRequest(name=name), lock_key=name)


def import_data(call: Call) -> operations_pb2.Operation:
    name = calls.resource_name(call, names.DATASETS, "dataset")
    request = wire.parse_body(call.body, vertex.ImportDataRequest)
    request.name = name
    record = call.server.registry.get_dataset(name)
    calls.refuse_if_being_deleted(call, name)
    if not request.import_configs:
        raise invalid("ImportData: importConfigs is required")
    types = set()
    for index, config in enumerate(request.import_configs):
        what = f"ImportData importConfigs[{index}]"
        _refuse_fields(
            config,
            what,
            {
                "annotation_labels": "labels come from the import file",
                "data_item_labels": "give ML_USE in the import file's rows (dataItemResourceLabels / [ML_USE,])",
            },
        )
        try:
            prediction_type = prediction_type_of(config.import_schema_uri)
        except ValueError as e:
            raise invalid(f"{what}.importSchemaUri: {e}") from None
        types.add(prediction_type)
        calls.check_sources(call, list(config.gcs_source.uris), what, "gcsSource.uris")
    if len(types) > 1:
        raise invalid(
            f"ImportData: importConfigs mix prediction types ({', '.join(sorted(types))}); import one at a time"
        )
    (prediction_type,) = types
    if record.data_item_count and record.prediction_type != prediction_type:
        raise invalid(
            f"ImportData: {name} is a {record.prediction_type} dataset; import {prediction_type} data into a new dataset"
        )
    return _queue(call, Kind.IMPORT_DATA, name, request, lock_key=name)


def export_data(call: Call) -> operations_pb2.Operation:
    name = calls.resource_name(call, names.DATASETS, "dataset")
    request = wire.parse_body(call.body, vertex.ExportDataRequest)
    request.name = name
    record = call.server.registry.get_dataset(name)
    config = request.export_config
    _refuse_fields(
        config,
        "ExportData exportConfig",
        {
            "fraction_split": "export the dataset whole (its ML_USE is in every row)",
            "filter_split": "export the dataset whole (its ML_USE is in every row)",
            "annotations_filter": "export every annotation",
            "saved_query_id": "export every annotation",
        },
    )
    prefix = config.gcs_destination.output_uri_prefix
    if not prefix:
        raise invalid("ExportData: exportConfig.gcsDestination.outputUriPrefix is required")
    call.server.roots.check(prefix)
    output = f"{prefix.rstrip('/')}/export-data-{calls.safe(record.display_name)}-{calls.timestamp()}"
    details = {"gcsOutputDirectory": output}
    return _queue(call, Kind.EXPORT_DATA, name, request, details, work={"output_dir": output})


# -- training pipelines ----------------------------------------------------------------------------------


def _prediction_type_of(pipeline: vertex.TrainingPipeline) -> str:
    definition = pipeline.training_task_definition
    prediction_type = _PREDICTION_TYPES_BY_DEFINITION.get(definition)
    if prediction_type is None:
        raise invalid(
            f"trainingPipeline.trainingTaskDefinition {definition!r}: automl-video trains "
            f"{', '.join(TRAINING_TASK_DEFINITIONS.values())}"
        )
    if prediction_type not in TASK_MODULES:
        raise ApiError(Code.UNIMPLEMENTED, f"{definition}: {prediction_type} is not yet supported by automl-video")
    return prediction_type


def _model_type_of(pipeline: vertex.TrainingPipeline, prediction_type: str) -> str:
    """``trainingTaskInputs.modelType`` (default CLOUD), offered for the prediction type; the inputs parse
    as the type's Vertex definition message (a misspelled field is refused by name)."""
    inputs = json_format.MessageToDict(pipeline._pb.training_task_inputs)
    if not isinstance(inputs, dict):
        raise invalid("trainingPipeline.trainingTaskInputs must be a JSON object")
    model_type = inputs.get("modelType", "CLOUD")
    try:
        parse_model_type(model_type, prediction_type)
    except ValueError as e:
        raise invalid(f"trainingPipeline.trainingTaskInputs.modelType: {e}") from None
    message = _TASK_INPUT_MESSAGES[prediction_type]
    try:
        json_format.ParseDict(inputs, message.pb(message()), ignore_unknown_fields=False)
    except json_format.ParseError as e:
        raise invalid(f"trainingPipeline.trainingTaskInputs: {e}") from None
    return model_type


def _input_data_config(call: Call, config: vertex.InputDataConfig) -> dict:
    """The ``inputDataConfig`` the job keeps: its dataset and one fraction or filter split (neither: 80/20)."""
    _refuse_fields(
        config,
        "trainingPipeline.inputDataConfig",
        {
            "predefined_split": "use fractionSplit or filterSplit",
            "timestamp_split": "use fractionSplit or filterSplit",
            "stratified_split": "use fractionSplit or filterSplit",
            "gcs_destination": "the split is kept with the training pipeline",
            "bigquery_destination": "the split is kept with the training pipeline",
            "annotations_filter": "every annotation trains",
            "saved_query_id": "every annotation trains",
        },
    )
    if not config.dataset_id or "/" in config.dataset_id:
        raise invalid("trainingPipeline.inputDataConfig.datasetId (the dataset's ID) is required")
    doc = wire.to_dict(config)
    if "fraction_split" in config:
        split = config.fraction_split
        if split.validation_fraction:
            raise invalid(
                "trainingPipeline.inputDataConfig.fractionSplit.validationFraction: AutoML video holds validation "
                "out of the training fraction; give trainingFraction and testFraction"
            )
        try:
            validate_fractions(split.training_fraction, split.test_fraction)
        except ValueError as e:
            raise invalid(f"trainingPipeline.inputDataConfig.fractionSplit: {e}") from None
    if "filter_split" in config:
        for field, json_name in (("training_filter", "trainingFilter"), ("test_filter", "testFilter")):
            try:
                DataFilter.parse(getattr(config.filter_split, field), json_name)
            except ValueError as e:
                raise invalid(f"trainingPipeline.inputDataConfig.filterSplit.{e}") from None
    return doc


def create_training_pipeline(call: Call) -> vertex.TrainingPipeline:
    pipeline = wire.parse_body(call.body, vertex.TrainingPipeline)
    _display_name(pipeline.display_name, "trainingPipeline")
    _refuse_fields(pipeline, "trainingPipeline", {"encryption_spec": "data is encrypted by its storage"})
    prediction_type = _prediction_type_of(pipeline)
    model_type = _model_type_of(pipeline, prediction_type)
    input_data_config = _input_data_config(call, pipeline.input_data_config)
    registry = call.server.registry
    dataset_id = pipeline.input_data_config.dataset_id
    dataset_name = names.resource_name(call.project, call.location, names.DATASETS, dataset_id)
    dataset = registry.get_dataset(dataset_name)
    calls.refuse_if_being_deleted(call, dataset_name)
    if dataset.prediction_type != prediction_type:
        raise invalid(f"{dataset_name} is a {dataset.prediction_type} dataset; this pipeline trains {prediction_type}")
    if dataset.data_item_count == 0:
        raise ApiError(Code.FAILED_PRECONDITION, f"{dataset_name} has no videos; import data first")
    model = pipeline.model_to_upload
    _refuse_fields(
        model,
        "trainingPipeline.modelToUpload",
        {
            field: "AutoML models are trained, not uploaded"
            for field in ("artifact_uri", "container_spec", "explanation_spec")
        },
    )
    parent_model = None
    if pipeline.parent_model:
        if "@" in pipeline.parent_model:
            raise invalid(f"trainingPipeline.parentModel {pipeline.parent_model!r} must name a model, not a version")
        parent_model = registry.get_model(
            _expand_model(call, pipeline.parent_model, "trainingPipeline.parentModel")
        ).name
    if pipeline.model_id:
        try:
            names.validate_user_model_id(pipeline.model_id)
        except ValueError as e:
            raise invalid(f"trainingPipeline.modelId: {e}") from None
        if parent_model and names.parse(parent_model).resource_id != pipeline.model_id:
            raise invalid("trainingPipeline.modelId and parentModel name different models")
    try:
        # The SDK sends ``default`` among the aliases when the version is to be the default (is_default_version).
        aliases = list(model.version_aliases)
        versions.aliases_for_new_version(
            aliases, versions.DEFAULT_ALIAS in aliases, is_first_version=parent_model is None
        )
    except ValueError as e:
        raise invalid(f"trainingPipeline.modelToUpload.versionAliases: {e}") from None
    model_to_upload = {
        "displayName": model.display_name or pipeline.display_name,
        "labels": dict(model.labels),
        "description": model.description,
        "versionAliases": list(model.version_aliases),
        "versionDescription": model.version_description,
    }
    record = registry.create_training_pipeline(
        call.project,
        call.location,
        display_name=pipeline.display_name,
        labels=dict(pipeline.labels),
        training_task_definition=TRAINING_TASK_DEFINITIONS[prediction_type],
        training_task_inputs={"modelType": model_type},
        input_data_config=input_data_config,
        model_to_upload={k: v for k, v in model_to_upload.items() if v},
        model_id=pipeline.model_id or None,
        parent_model=parent_model,
        dataset_id=dataset_id,
        run_info={"backend": call.server.config.backend},
    )
    work = {
        "work_uri": storage.join(call.server.config.workspace, "operations", "{operation_id}"),
        "training_pipeline": record.name,
    }
    _queue(call, Kind.TRAIN, record.name, vertex.CreateTrainingPipelineRequest(training_pipeline=pipeline), work=work)
    return resources.training_pipeline_message(registry.get_training_pipeline(record.name))


def get_training_pipeline(call: Call) -> vertex.TrainingPipeline:
    name = calls.resource_name(call, names.TRAINING_PIPELINES, "pipeline")
    return resources.training_pipeline_message(call.server.registry.get_training_pipeline(name))


def list_training_pipelines(call: Call) -> vertex.ListTrainingPipelinesResponse:
    page = call.server.registry.list_training_pipelines(
        call.project, call.location, **calls.list_options(call, order_by=True)
    )
    return vertex.ListTrainingPipelinesResponse(
        training_pipelines=[resources.training_pipeline_message(r) for r in page.items],
        next_page_token=page.next_page_token,
    )


def _cancel_job(call: Call, name: str) -> empty_pb2.Empty:
    """Cancel a job and the operation that runs it (its worker stops; a queued one never starts)."""
    registry = call.server.registry
    registry.cancel_job(name)
    for operation in registry.running_operations(name):
        if operation.target == name and operation.kind in (Kind.TRAIN.value, Kind.BATCH_PREDICT.value):
            if registry.cancel_operation(operation.name).done:
                jobs.end_job(registry, name)  # it never started: nothing will end the job
    return empty_pb2.Empty()


def cancel_training_pipeline(call: Call) -> empty_pb2.Empty:
    name = calls.resource_name(call, names.TRAINING_PIPELINES, "pipeline")
    call.server.registry.get_training_pipeline(name)
    return _cancel_job(call, name)


def _delete_job(call: Call, name: str, request: object) -> operations_pb2.Operation:
    job = call.server.registry.get_job(name)
    if not is_terminal(job.state):
        raise ApiError(Code.FAILED_PRECONDITION, f"{name} is {job.state.value}; cancel it and wait for it to end first")
    return _queue(call, Kind.DELETE_JOB, name, request)


def delete_training_pipeline(call: Call) -> operations_pb2.Operation:
    name = calls.resource_name(call, names.TRAINING_PIPELINES, "pipeline")
    call.server.registry.get_training_pipeline(name)
    return _delete_job(call, name, vertex.DeleteTrainingPipelineRequest(name=name))


# -- models ---------------------------------------------------------------------------------------------


def get_model(call: Call) -> vertex.Model:
    return resources.model_message(call.server.registry.get_model(_model_ref(call)))


def list_models(call: Call) -> vertex.ListModelsResponse:
    page = call.server.registry.list_models(call.project, call.location, **calls.list_options(call, order_by=True))
    return vertex.ListModelsResponse(
        models=[resources.model_message(r) for r in page.items], next_page_token=page.next_page_token
    )


def list_model_versions(call: Call) -> vertex.ListModelVersionsResponse:
    name = _model_ref(call)
    if "@" in name:
        raise invalid(f"ListModelVersions: name {name!r} must name a model, not a version")
    page = call.server.registry.list_model_versions(name, **calls.list_options(call, order_by=True))
    return vertex.ListModelVersionsResponse(
        models=[resources.model_message(r) for r in page.items], next_page_token=page.next_page_token
    )


def merge_version_aliases(call: Call) -> vertex.Model:
    request = wire.parse_body(call.body, vertex.MergeVersionAliasesRequest)
    name = _model_ref(call)
    if "@" not in name:
        raise invalid(f"MergeVersionAliases: name {name!r} must name a version (models/ID@VERSION)")
    return resources.model_message(call.server.registry.merge_version_aliases(name, list(request.version_aliases)))


def delete_model(call: Call) -> operations_pb2.Operation:
    name = _model_ref(call)
    if "@" in name:
        raise invalid(f"DeleteModel: {name!r} names a version; use :deleteVersion")
    call.server.registry.get_model(name)
    return _queue(call, Kind.DELETE_MODEL, name, vertex.DeleteModelRequest(name=name))


def delete_model_version(call: Call) -> operations_pb2.Operation:
    name = _model_ref(call)
    if "@" not in name:
        raise invalid(f"DeleteModelVersion: {name!r} must name a version (models/ID@VERSION)")
    model = call.server.registry.get_model(name)
    if model.is_default_version:
        raise ApiError(
            Code.FAILED_PRECONDITION,
            f"{name} is the default version; make another version the default before deleting it",
        )
    return _queue(call, Kind.DELETE_MODEL_VERSION, model.versioned_name, vertex.DeleteModelVersionRequest(name=name))


def export_model(call: Call) -> operations_pb2.Operation:
    request = wire.parse_body(call.body, vertex.ExportModelRequest)
    request.name = _model_ref(call)
    model = call.server.registry.get_model(request.name)
    config = request.output_config
    if not ModelType(model.model_type).exportable:
        raise ApiError(
            Code.FAILED_PRECONDITION, f"{model.versioned_name} is a {model.model_type} model, which cannot be exported"
        )
    if config.export_format_id not in EXPORT_FORMATS:
        raise invalid(
            f"ExportModel outputConfig.exportFormatId {config.export_format_id!r}: video models export as "
            f"{', '.join(EXPORT_FORMATS)}"
        )
    _refuse_fields(config, "ExportModel outputConfig", {"image_destination": "use artifactDestination"})
    prefix = config.artifact_destination.output_uri_prefix
    if not prefix:
        raise invalid("ExportModel: outputConfig.artifactDestination.outputUriPrefix is required")
    call.server.roots.check(prefix)
    output = storage.join(prefix, f"model-{model.resource_id}", config.export_format_id, calls.timestamp())
    details = {"outputInfo": {"artifactOutputUri": output}}
    work = {"output_dir": output, "model": model.versioned_name}
    return _queue(call, Kind.EXPORT_MODEL, model.versioned_name, request, details, work=work)


def _overall_and_labels(registry, model_ref: str) -> tuple:
    evaluations = registry.list_model_evaluations(model_ref).items
    overall = [e for e in evaluations if not e.annotation_spec_id]
    return overall, [e for e in evaluations if e.annotation_spec_id]


def list_model_evaluations(call: Call) -> vertex.ListModelEvaluationsResponse:
    overall, _ = _overall_and_labels(call.server.registry, _model_ref(call))
    return vertex.ListModelEvaluationsResponse(model_evaluations=[resources.evaluation_message(e) for e in overall])


def _overall(call: Call):
    name = f"{_model_ref(call)}/{names.EVALUATIONS}/{call.params['evaluation']}"
    record = call.server.registry.get_model_evaluation(name)
    if record.annotation_spec_id:
        raise ApiError(Code.NOT_FOUND, f"model evaluation {name} not found")
    return record


def get_model_evaluation(call: Call) -> vertex.ModelEvaluation:
    return resources.evaluation_message(_overall(call))


def list_model_evaluation_slices(call: Call) -> vertex.ListModelEvaluationSlicesResponse:
    overall = _overall(call)
    _, labels = _overall_and_labels(call.server.registry, f"{overall.model_name}@{overall.version_id}")
    return vertex.ListModelEvaluationSlicesResponse(
        model_evaluation_slices=[resources.slice_message(overall, label) for label in labels]
    )


def get_model_evaluation_slice(call: Call) -> vertex.ModelEvaluationSlice:
    overall = _overall(call)
    label = call.server.registry.get_model_evaluation(
        f"{overall.model_name}/{names.EVALUATIONS}/{call.params['slice']}"
    )
    if not label.annotation_spec_id or label.version_id != overall.version_id:
        raise ApiError(Code.NOT_FOUND, f"model evaluation slice {overall.name}/slices/{call.params['slice']} not found")
    return resources.slice_message(overall, label)


# -- batch prediction jobs ----------------------------------------------------------------------------------


def _model_parameters(model: ModelRecord, job: vertex.BatchPredictionJob) -> dict:
    parameters = json_format.MessageToDict(job._pb.model_parameters) if "model_parameters" in job else {}
    if not isinstance(parameters, dict):
        raise invalid("batchPredictionJob.modelParameters must be a JSON object")
    message = _PARAMETER_MESSAGES[model.prediction_type]
    try:
        json_format.ParseDict(parameters, message.pb(message()), ignore_unknown_fields=False)
    except json_format.ParseError as e:
        raise invalid(f"batchPredictionJob.modelParameters: {e}") from None
    return parameters


_INSTANCES_EXTENSIONS = {"jsonl": ".jsonl", "csv": ".csv"}


def create_batch_prediction_job(call: Call) -> vertex.BatchPredictionJob:
    job = wire.parse_body(call.body, vertex.BatchPredictionJob)
    _display_name(job.display_name, "batchPredictionJob")
    _refuse_fields(
        job,
        "batchPredictionJob",
        {
            "unmanaged_container_model": "give model",
            "instance_config": "instances are read as instancesFormat says",
            "generate_explanation": "explanations are not offered for video models",
            "explanation_spec": "explanations are not offered for video models",
            "encryption_spec": "data is encrypted by its storage",
        },
    )
    inputs, outputs = job.input_config, job.output_config
    _refuse_fields(
        inputs,
        "batchPredictionJob.inputConfig",
        {"bigquery_source": "use gcsSource", "vertex_multimodal_dataset_source": "use gcsSource"},
    )
    _refuse_fields(
        outputs,
        "batchPredictionJob.outputConfig",
        {"bigquery_destination": "use gcsDestination", "vertex_multimodal_dataset_destination": "use gcsDestination"},
    )
    extension = _INSTANCES_EXTENSIONS.get(inputs.instances_format)
    if extension is None:
        raise invalid(f"batchPredictionJob.inputConfig.instancesFormat {inputs.instances_format!r}: use jsonl or csv")
    if outputs.predictions_format != "jsonl":
        raise invalid(f"batchPredictionJob.outputConfig.predictionsFormat {outputs.predictions_format!r}: use jsonl")
    sources = calls.check_sources(
        call, list(inputs.gcs_source.uris), "batchPredictionJob.inputConfig", "gcsSource.uris"
    )
    for source in sources:
        if not source.lower().endswith(extension):
            raise invalid(f"batchPredictionJob.inputConfig.gcsSource.uris: {source} is not a {extension} file")
    prefix = outputs.gcs_destination.output_uri_prefix
    if not prefix:
        raise invalid("batchPredictionJob.outputConfig.gcsDestination.outputUriPrefix is required")
    call.server.roots.check(prefix)
    registry = call.server.registry
    model = registry.get_model(_expand_model(call, job.model, "batchPredictionJob.model"))
    if job.model_version_id and job.model_version_id != model.version_id:
        model = registry.get_model(f"{model.name}@{job.model_version_id}")
    parameters = _model_parameters(model, job)
    resources_doc = wire.to_dict(job.dedicated_resources) if "dedicated_resources" in job else {}
    starting = job.dedicated_resources.starting_replica_count
    maximum = job.dedicated_resources.max_replica_count
    if starting and maximum and starting > maximum:
        raise invalid(
            f"batchPredictionJob.dedicatedResources: startingReplicaCount {starting} is more than maxReplicaCount {maximum}"
        )
    record = registry.create_batch_prediction_job(
        call.project,
        call.location,
        display_name=job.display_name,
        model=model.versioned_name,
        input_config={"instancesFormat": inputs.instances_format, "gcsSource": {"uris": sources}},
        output_config={"predictionsFormat": "jsonl", "gcsDestination": {"outputUriPrefix": prefix.rstrip("/")}},
        model_parameters=parameters,
        dedicated_resources=resources_doc,
        labels=dict(job.labels),
        run_info={"backend": call.server.config.backend},
    )
    work = {"batch_prediction_job": record.name, "shards": maximum or starting or 1}
    _queue(
        call,
        Kind.BATCH_PREDICT,
        record.name,
        vertex.CreateBatchPredictionJobRequest(batch_prediction_job=job),
        work=work,
    )
    return resources.batch_prediction_job_message(registry.get_batch_prediction_job(record.name))


def get_batch_prediction_job(call: Call) -> vertex.BatchPredictionJob:
    name = calls.resource_name(call, names.BATCH_PREDICTION_JOBS, "job")
    return resources.batch_prediction_job_message(call.server.registry.get_batch_prediction_job(name))


def list_batch_prediction_jobs(call: Call) -> vertex.ListBatchPredictionJobsResponse:
    page = call.server.registry.list_batch_prediction_jobs(
        call.project, call.location, **calls.list_options(call, order_by=True)
    )
    return vertex.ListBatchPredictionJobsResponse(
        batch_prediction_jobs=[resources.batch_prediction_job_message(r) for r in page.items],
        next_page_token=page.next_page_token,
    )


def cancel_batch_prediction_job(call: Call) -> empty_pb2.Empty:
    name = calls.resource_name(call, names.BATCH_PREDICTION_JOBS, "job")
    call.server.registry.get_batch_prediction_job(name)
    return _cancel_job(call, name)


def delete_batch_prediction_job(call: Call) -> operations_pb2.Operation:
    name = calls.resource_name(call, names.BATCH_PREDICTION_JOBS, "job")
    call.server.registry.get_batch_prediction_job(name)
    return _delete_job(call, name, vertex.DeleteBatchPredictionJobRequest(name=name))


def _unsupported(what: str) -> Callable[[Call], None]:
    def refuse(call: Call) -> None:
        raise ApiError(Code.UNIMPLEMENTED, f"{what} is not supported by automl-video")

    return refuse


_LOCATION = f"{resources.PREFIX}projects/{{project}}/locations/{{location}}"
_DATASET = _LOCATION + "/datasets/{dataset}"
_PIPELINE = _LOCATION + "/trainingPipelines/{pipeline}"
_MODEL = _LOCATION + "/models/{model}"
_EVALUATION = _MODEL + "/evaluations/{evaluation}"
_JOB = _LOCATION + "/batchPredictionJobs/{job}"
ROUTES = [
    Route("POST", _LOCATION + "/datasets", create_dataset),
    Route("GET", _LOCATION + "/datasets", list_datasets),
    Route("GET", _DATASET, get_dataset),
    Route("DELETE", _DATASET, delete_dataset),
    Route("POST", _DATASET + ":import", import_data),
    Route("POST", _DATASET + ":export", export_data),
    Route("POST", _LOCATION + "/trainingPipelines", create_training_pipeline),
    Route("GET", _LOCATION + "/trainingPipelines", list_training_pipelines),
    Route("GET", _PIPELINE, get_training_pipeline),
    Route("DELETE", _PIPELINE, delete_training_pipeline),
    Route("POST", _PIPELINE + ":cancel", cancel_training_pipeline),
    Route("GET", _LOCATION + "/models", list_models),
    Route("POST", _LOCATION + "/models:upload", _unsupported("uploading models (models:upload)")),
    Route("GET", _MODEL, get_model),
    Route("DELETE", _MODEL, delete_model),
    Route("GET", _MODEL + ":listVersions", list_model_versions),
    Route("DELETE", _MODEL + ":deleteVersion", delete_model_version),
    Route("POST", _MODEL + ":mergeVersionAliases", merge_version_aliases),
    Route("POST", _MODEL + ":export", export_model),
    Route("GET", _MODEL + "/evaluations", list_model_evaluations),
    Route("GET", _EVALUATION, get_model_evaluation),
    Route("GET", _EVALUATION + "/slices", list_model_evaluation_slices),
    Route("GET", _EVALUATION + "/slices/{slice}", get_model_evaluation_slice),
    Route("POST", _LOCATION + "/batchPredictionJobs", create_batch_prediction_job),
    Route("GET", _LOCATION + "/batchPredictionJobs", list_batch_prediction_jobs),
    Route("GET", _JOB, get_batch_prediction_job),
    Route("DELETE", _JOB, delete_batch_prediction_job),
    Route("POST", _JOB + ":cancel", cancel_batch_prediction_job),
]

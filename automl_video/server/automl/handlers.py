"""The AutoML v1beta1 methods (``AutoMl`` and ``PredictionService``) as the REST client calls them.

Each handler validates what can be checked at once (names, display names, metadata fields, allowed
roots, model formats) so a bad call fails synchronously with its status, then reads the registry or
queues an operation (:mod:`.kinds` runs it in a worker). Names are always built from the path's project
and location, so a key for one project never reaches another's resources.
"""

import uuid

from google.cloud import automl_v1beta1 as automl
from google.longrunning import operations_pb2

from automl_video import storage
from automl_video.data import dataset as dataset_lib
from automl_video.data.dataset import DatasetError
from automl_video.modeling.metadata import ModelType
from automl_video.registry import names
from automl_video.registry.resources import TRAINING_TASK_DEFINITIONS
from automl_video.rpc import Code
from automl_video.server import calls, wire
from automl_video.server.automl import resources
from automl_video.server.automl.kinds import EXPORT_FORMATS, PREDICT_PARAMS, Kind
from automl_video.server.errors import ApiError
from automl_video.server.surface import Call, Route

# ``InputConfig.params`` an import takes (AutoML video: whether unlabelled frames are negatives).
IMPORT_PARAMS = ("is_exhaustively_labeled",)


def _name(call: Call, collection: str, key: str) -> str:
    return calls.resource_name(call, collection, key)


def _destination(call: Call, config, what: str) -> str:
    """The output prefix of an ``OutputConfig``, ``BatchPredictOutputConfig`` or ``ModelExportOutputConfig``,
    which must be under an allowed root."""
    if "bigquery_destination" in type(config).meta.fields and "bigquery_destination" in config:
        raise ApiError(Code.INVALID_ARGUMENT, f"{what}: BigQuery destinations are not supported; use gcs_destination")
    prefix = config.gcs_destination.output_uri_prefix
    if not prefix:
        raise ApiError(Code.INVALID_ARGUMENT, f"{what}: gcs_destination.output_uri_prefix is required")
    call.server.roots.check(prefix)
    return prefix.rstrip("/")


def _sources(call: Call, uris: list[str], what: str) -> list[str]:
    return calls.check_sources(call, uris, what, "gcs_source.input_uris")


def _queue(call: Call, kind: Kind, target: str, request: object, details: dict, **options) -> operations_pb2.Operation:
    return calls.queue(call, resources.API, resources.render_operation, kind.value, target, request, details, **options)


# -- datasets -----------------------------------------------------------------------------------------


def create_dataset(call: Call) -> automl.Dataset:
    dataset = wire.parse_body(call.body, automl.Dataset)
    display_name = resources.check_display_name(dataset.display_name, "dataset")
    prediction_type = resources.prediction_type_of(dataset, "dataset")
    data_uri = storage.join(call.server.config.workspace, "datasets", uuid.uuid4().hex)
    # An empty dataset.json from the start, so export and annotation specs work before any import.
    dataset_lib.save(dataset_lib.Dataset(display_name=display_name, prediction_type=prediction_type), data_uri)
    record = call.server.registry.create_dataset(
        call.project,
        call.location,
        display_name=display_name,
        description=dataset.description,
        data_uri=data_uri,
        prediction_type=prediction_type,
    )
    return resources.dataset_message(record)


def get_dataset(call: Call) -> automl.Dataset:
    return resources.dataset_message(call.server.registry.get_dataset(_name(call, names.DATASETS, "dataset")))


def list_datasets(call: Call) -> automl.ListDatasetsResponse:
    page = call.server.registry.list_datasets(call.project, call.location, **calls.list_options(call))
    return automl.ListDatasetsResponse(
        datasets=[resources.dataset_message(r) for r in page.items], next_page_token=page.next_page_token
    )


def delete_dataset(call: Call) -> operations_pb2.Operation:
    name = _name(call, names.DATASETS, "dataset")
    call.server.registry.get_dataset(name)
    request = automl.DeleteDatasetRequest(name=name)
    return _queue(call, Kind.DELETE_DATASET, name, request, {"deleteDetails": {}}, lock_key=name)


def import_data(call: Call) -> operations_pb2.Operation:
    name = _name(call, names.DATASETS, "dataset")
    request = wire.parse_body(call.body, automl.ImportDataRequest)
    request.name = name
    call.server.registry.get_dataset(name)
    calls.refuse_if_being_deleted(call, name)
    if "bigquery_source" in request.input_config:
        raise ApiError(Code.INVALID_ARGUMENT, "ImportData: BigQuery sources are not supported; use gcs_source")
    _sources(call, list(request.input_config.gcs_source.input_uris), "ImportData")
    unknown = sorted(set(request.input_config.params) - set(IMPORT_PARAMS))
    if unknown:
        raise ApiError(Code.INVALID_ARGUMENT, f"ImportData params {unknown}: allowed are {list(IMPORT_PARAMS)}")
    return _queue(call, Kind.IMPORT_DATA, name, request, {"importDataDetails": {}}, lock_key=name)


def export_data(call: Call) -> operations_pb2.Operation:
    name = _name(call, names.DATASETS, "dataset")
    request = wire.parse_body(call.body, automl.ExportDataRequest)
    request.name = name
    record = call.server.registry.get_dataset(name)
    prefix = _destination(call, request.output_config, "ExportData")
    output = f"{prefix}/export_data-{calls.safe(record.display_name)}-{calls.timestamp()}"
    details = {"exportDataDetails": {"outputInfo": {"gcsOutputDirectory": output}}}
    return _queue(call, Kind.EXPORT_DATA, name, request, details, work={"output_dir": output})


def get_annotation_spec(call: Call) -> automl.AnnotationSpec:
    name = _name(call, names.DATASETS, "dataset")
    record = call.server.registry.get_dataset(name)
    try:
        dataset = dataset_lib.load(record.data_uri)
    except DatasetError as e:  # the server's own data is unreadable: not the caller's fault
        raise RuntimeError(f"{name}: {e}") from e
    return resources.annotation_spec_message(name, dataset, call.params["spec"])


# -- models ---------------------------------------------------------------------------------------------


def create_model(call: Call) -> operations_pb2.Operation:
    model = wire.parse_body(call.body, automl.Model)
    resources.check_display_name(model.display_name, "model")
    prediction_type = resources.prediction_type_of(model, "model")
    if not model.dataset_id or "/" in model.dataset_id:
        raise ApiError(Code.INVALID_ARGUMENT, "CreateModel: model.dataset_id (the dataset's ID) is required")
    dataset_name = names.resource_name(call.project, call.location, names.DATASETS, model.dataset_id)
    registry = call.server.registry
    dataset = registry.get_dataset(dataset_name)
    calls.refuse_if_being_deleted(call, dataset_name)
    if dataset.prediction_type != prediction_type:
        raise ApiError(
            Code.INVALID_ARGUMENT,
            f"CreateModel: {dataset_name} is a {dataset.prediction_type} dataset; set its model metadata field",
        )
    if dataset.data_item_count == 0:
        raise ApiError(Code.FAILED_PRECONDITION, f"CreateModel: {dataset_name} has no videos; import data first")
    pipeline = registry.create_training_pipeline(
        call.project,
        call.location,
        display_name=model.display_name,
        training_task_definition=TRAINING_TASK_DEFINITIONS[prediction_type],
        training_task_inputs={"modelType": call.server.config.model_type},
        input_data_config={"datasetId": model.dataset_id},
        model_to_upload={"displayName": model.display_name},
        dataset_id=model.dataset_id,
        run_info={"backend": call.server.config.backend},
    )
    request = automl.CreateModelRequest(parent=names.location_path(call.project, call.location), model=model)
    work = {
        "work_uri": storage.join(call.server.config.workspace, "operations", "{operation_id}"),
        "training_pipeline": pipeline.name,
    }
    return _queue(call, Kind.CREATE_MODEL, dataset_name, request, {"createModelDetails": {}}, work=work)


def get_model(call: Call) -> automl.Model:
    return resources.model_message(call.server.registry.get_model(_name(call, names.MODELS, "model")))


def list_models(call: Call) -> automl.ListModelsResponse:
    page = call.server.registry.list_models(call.project, call.location, **calls.list_options(call))
    return automl.ListModelsResponse(
        model=[resources.model_message(r) for r in page.items], next_page_token=page.next_page_token
    )


def delete_model(call: Call) -> operations_pb2.Operation:
    name = _name(call, names.MODELS, "model")
    call.server.registry.get_model(name)
    return _queue(call, Kind.DELETE_MODEL, name, automl.DeleteModelRequest(name=name), {"deleteDetails": {}})


def deploy_model(call: Call) -> operations_pb2.Operation:
    name = _name(call, names.MODELS, "model")
    wire.parse_body(call.body, automl.DeployModelRequest)
    call.server.registry.get_model(name)
    return _queue(call, Kind.DEPLOY_MODEL, name, automl.DeployModelRequest(name=name), {"deployModelDetails": {}})


def undeploy_model(call: Call) -> operations_pb2.Operation:
    name = _name(call, names.MODELS, "model")
    wire.parse_body(call.body, automl.UndeployModelRequest)
    call.server.registry.get_model(name)
    request = automl.UndeployModelRequest(name=name)
    return _queue(call, Kind.UNDEPLOY_MODEL, name, request, {"undeployModelDetails": {}})


def export_model(call: Call) -> operations_pb2.Operation:
    name = _name(call, names.MODELS, "model")
    request = wire.parse_body(call.body, automl.ExportModelRequest)
    request.name = name
    model = call.server.registry.get_model(name)
    config = request.output_config
    model_format = config.model_format or "tflite"
    if model_format not in EXPORT_FORMATS:
        raise ApiError(
            Code.INVALID_ARGUMENT, f"model_format {model_format!r}: video models export as {', '.join(EXPORT_FORMATS)}"
        )
    if not ModelType(model.model_type).exportable:
        raise ApiError(Code.FAILED_PRECONDITION, f"{name} is a {model.model_type} model, which cannot be exported")
    unknown = sorted(set(config.params) - {"quantize"})
    if unknown:
        raise ApiError(Code.INVALID_ARGUMENT, f"ExportModel params {unknown}: allowed is ['quantize']")
    if "gcr_destination" in config:
        raise ApiError(Code.INVALID_ARGUMENT, "ExportModel: container images are not exported; use gcs_destination")
    prefix = _destination(call, config, "ExportModel")
    output = f"{prefix}/model-export/{calls.safe(model.prediction_type)}/{model_format}-{calls.safe(model.display_name)}-{calls.timestamp()}"
    details = {"exportModelDetails": {"outputInfo": {"gcsOutputDirectory": output}}}
    return _queue(call, Kind.EXPORT_MODEL, name, request, details, work={"output_dir": output})


def list_model_evaluations(call: Call) -> automl.ListModelEvaluationsResponse:
    if call.params["model"] == "-":
        raise ApiError(
            Code.UNIMPLEMENTED, "listing the evaluations of every model ('-') is not supported; name a model"
        )
    page = call.server.registry.list_model_evaluations(_name(call, names.MODELS, "model"), **calls.list_options(call))
    return automl.ListModelEvaluationsResponse(
        model_evaluation=[resources.evaluation_message(r) for r in page.items], next_page_token=page.next_page_token
    )


def get_model_evaluation(call: Call) -> automl.ModelEvaluation:
    model = _name(call, names.MODELS, "model")
    record = call.server.registry.get_model_evaluation(
        f"{model}/{names.AUTOML_EVALUATIONS}/{call.params['evaluation']}"
    )
    return resources.evaluation_message(record)


# -- prediction -----------------------------------------------------------------------------------------


def batch_predict(call: Call) -> operations_pb2.Operation:
    name = _name(call, names.MODELS, "model")
    request = wire.parse_body(call.body, automl.BatchPredictRequest)
    request.name = name
    if "bigquery_source" in request.input_config:
        raise ApiError(Code.INVALID_ARGUMENT, "BatchPredict: BigQuery sources are not supported; use gcs_source")
    _sources(call, list(request.input_config.gcs_source.input_uris), "BatchPredict")
    prefix = _destination(call, request.output_config, "BatchPredict")
    model = call.server.registry.get_model(name)
    allowed = PREDICT_PARAMS.get(model.prediction_type)
    unknown = sorted(set(request.params) - set(allowed)) if allowed is not None else []
    if unknown:
        raise ApiError(Code.INVALID_ARGUMENT, f"BatchPredict params {unknown}: allowed are {list(allowed)}")
    job = call.server.registry.create_batch_prediction_job(
        call.project,
        call.location,
        display_name=model.display_name,
        model=name,
        input_config={
            "instancesFormat": "csv",
            "gcsSource": {"uris": list(request.input_config.gcs_source.input_uris)},
        },
        output_config={"predictionsFormat": "jsonl", "gcsDestination": {"outputUriPrefix": prefix}},
        model_parameters=dict(request.params),
        run_info={"backend": call.server.config.backend},
    )
    input_config = wire.to_dict(request.input_config)
    details = {"batchPredictDetails": {"inputConfig": input_config}}
    return _queue(call, Kind.BATCH_PREDICT, name, request, details, work={"batch_prediction_job": job.name})


def predict(call: Call) -> automl.PredictResponse:
    raise ApiError(
        Code.UNIMPLEMENTED,
        "online prediction is not available for AutoML Video models; use batch_predict "
        f"({resources.PREFIX}projects/{call.project}/locations/{call.location}/models/{call.params['model']}:batchPredict)",
    )


def not_video(call: Call) -> automl.Dataset:
    """Methods of other AutoML products (Tables' specs, UpdateDataset, exportEvaluatedExamples)."""
    raise ApiError(
        Code.UNIMPLEMENTED,
        "this method is not part of the AutoML Video API; automl-video serves video datasets and models",
    )


_LOCATION = f"{resources.PREFIX}projects/{{project}}/locations/{{location}}"
_DATASET = _LOCATION + "/datasets/{dataset}"
_MODEL = _LOCATION + "/models/{model}"
ROUTES = [
    Route("POST", _LOCATION + "/datasets", create_dataset),
    Route("GET", _LOCATION + "/datasets", list_datasets),
    Route("GET", _DATASET, get_dataset),
    Route("DELETE", _DATASET, delete_dataset),
    Route("POST", _DATASET + ":importData", import_data),
    Route("POST", _DATASET + ":exportData", export_data),
    Route("GET", _DATASET + "/annotationSpecs/{spec}", get_annotation_spec),
    Route("GET", _DATASET + "/tableSpecs", not_video),
    Route("GET", _DATASET + "/tableSpecs/{table}", not_video),
    Route("PATCH", _DATASET + "/tableSpecs/{table}", not_video),
    Route("GET", _DATASET + "/tableSpecs/{table}/columnSpecs", not_video),
    Route("GET", _DATASET + "/tableSpecs/{table}/columnSpecs/{column}", not_video),
    Route("PATCH", _DATASET + "/tableSpecs/{table}/columnSpecs/{column}", not_video),
    Route("PATCH", _DATASET, not_video),
    Route("POST", _LOCATION + "/models", create_model),
    Route("GET", _LOCATION + "/models", list_models),
    Route("GET", _MODEL, get_model),
    Route("DELETE", _MODEL, delete_model),
    Route("POST", _MODEL + ":deploy", deploy_model),
    Route("POST", _MODEL + ":undeploy", undeploy_model),
    Route("POST", _MODEL + ":export", export_model),
    Route("POST", _MODEL + ":exportEvaluatedExamples", not_video),
    Route("GET", _MODEL + "/modelEvaluations", list_model_evaluations),
    Route("GET", _MODEL + "/modelEvaluations/{evaluation}", get_model_evaluation),
    Route("POST", _MODEL + ":batchPredict", batch_predict),
    Route("POST", _MODEL + ":predict", predict),
]

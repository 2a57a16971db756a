"""``automl-video datasets|models|evaluations|jobs list|get``: what the registry holds, with the SDK's
filters (:mod:`automl_video.registry.filters`) and ordering; ``--json`` prints the Vertex AI JSON of
each resource (a model with its evaluations under ``evaluations``).

Also here: the ``--registry`` / ``--project`` / ``--location`` flags every recording command shares,
and the :class:`automl_video.records.Recorder` they give.
"""

import argparse
import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from automl_video import records
from automl_video.cli import add_json_flag, emit
from automl_video.registry import Registry, names
from automl_video.registry.database import ENV_URL
from automl_video.registry.listing import every_item

_LIST_FILTER_HELP = {
    "datasets": "display_name, labels.KEY, create_time, update_time",
    "models": "display_name, labels.KEY, dataset_id, model_type, training_pipeline, create_time, update_time",
    "evaluations": "annotation_spec_id (NOT annotation_spec_id:* = overall), display_name, create_time",
    "jobs": "display_name, labels.KEY, state, create_time, update_time; training: dataset_id; "
    "batch prediction: model, model_version_id",
}


def add_registry_flags(parser: argparse.ArgumentParser, recording: bool = True) -> None:
    """``--registry``, ``--project``, ``--location`` (recording commands also accept ``--registry off``)."""
    off = f"; '{records.OFF}' records nothing" if recording else ""
    parser.add_argument(
        "--registry",
        default="",
        metavar="URL",
        help=f"registry (SQLAlchemy URL or SQLite file) [${ENV_URL}, else ~/.automl-video/registry.sqlite]{off}; "
        f"a URL with a password belongs in ${ENV_URL}, not here (ps shows the command line)",
    )
    parser.add_argument("--project", default="", help=f"[${records.ENV_PROJECT}, else {records.DEFAULT_PROJECT}]")
    parser.add_argument("--location", default="", help=f"[${records.ENV_LOCATION}, else {records.DEFAULT_LOCATION}]")


@contextlib.contextmanager
def recorder(args: argparse.Namespace | None) -> Iterator[records.Recorder | None]:
    """The recorder of a recording command's flags (None with ``--registry off``, or ``args`` None: the
    command records nothing this time), opened before its work so that an unreachable registry fails
    the command before any training starts."""
    target = records.RecordTarget.resolve(args.registry, args.project, args.location) if args else None
    if target is None:
        yield None
        return
    with target.recorder() as opened:
        yield opened


@contextlib.contextmanager
def recorded_job(recording: records.Recorder | None, start: Callable[[records.Recorder], Any]) -> Iterator[Any]:
    """The job ``start`` records (None without a recorder); an exception in the block ends it FAILED."""
    if recording is None:
        yield None
        return
    job = start(recording)
    with recording.failing(job.name):
        yield job


def register(subparsers) -> None:
    _register_collection(subparsers, "datasets", "registered datasets", _list_datasets, _get_dataset, "DATASET")
    _register_collection(
        subparsers, "models", "registered models (default versions) and their evaluations", _list_models, _get_model
    )
    evaluations = _register_collection(
        subparsers, "evaluations", "evaluations of a model version", _list_evaluations, _get_evaluation, "EVALUATION"
    )
    evaluations["list"].add_argument(
        "--model", required=True, metavar="MODEL", help="model name or ID, optionally @VERSION_ID or @ALIAS"
    )
    jobs = _register_collection(
        subparsers, "jobs", "training pipelines and batch prediction jobs", _list_jobs, _get_job, "JOB"
    )
    jobs["list"].add_argument(
        "--kind",
        choices=("all", "training", "batch-prediction"),
        default="all",
        help="training pipelines, batch prediction jobs, or both (default)",
    )


def _register_collection(
    subparsers, collection: str, what: str, list_handler: Callable, get_handler: Callable, noun: str = "MODEL"
) -> dict[str, argparse.ArgumentParser]:
    group = subparsers.add_parser(collection, help=f"list or show {what}")
    commands = group.add_subparsers(dest=f"{collection}_command", required=True)
    list_parser = commands.add_parser("list", help=f"list {what}")
    list_parser.add_argument(
        "--filter", default=None, help=f"filter as the SDK takes it; fields: {_LIST_FILTER_HELP[collection]}"
    )
    list_parser.add_argument(
        "--order-by", default=None, help="display_name, create_time or update_time, each optionally followed by desc"
    )
    add_registry_flags(list_parser, recording=False)
    add_json_flag(list_parser)
    list_parser.set_defaults(func=_with_registry(list_handler))
    get_parser = commands.add_parser("get", help=f"show one of the {what}")
    reference = "name or ID, optionally @VERSION_ID or @ALIAS" if noun == "MODEL" else "full name or ID"
    get_parser.add_argument("name", metavar=noun, help=reference)
    add_registry_flags(get_parser, recording=False)
    add_json_flag(get_parser)
    get_parser.set_defaults(func=_with_registry(get_handler))
    return {"list": list_parser, "get": get_parser}


def _with_registry(handler: Callable[[argparse.Namespace, Registry, str, str], Any]) -> Callable:
    def run(args: argparse.Namespace) -> None:
        target = records.RecordTarget.resolve(args.registry, args.project, args.location)
        if target is None:
            raise ValueError(f"no registry to read: give --registry URL (or set {ENV_URL})")
        with Registry(target.url) as registry:
            result, human = handler(args, registry, target.project, target.location)
        emit(result, args.json, human=human)

    return run


# -- handlers: each returns (JSON result, human formatter) ----------------------------------------------


def _listed(list_call: Callable[..., Any], args: argparse.Namespace, *parent: str) -> list[Any]:
    """Every page of ``list_call(*parent)`` with the command's ``--filter`` and ``--order-by``."""
    return every_item(lambda token: list_call(*parent, filter=args.filter, order_by=args.order_by, page_token=token))


def _list_datasets(args, registry: Registry, project: str, location: str):
    found = _listed(registry.list_datasets, args, project, location)
    return [d.to_dict() for d in found], _dataset_lines


def _get_dataset(args, registry: Registry, project: str, location: str):
    record = registry.get_dataset(names.expand(args.name, names.DATASETS, project, location))
    return record.to_dict(), lambda doc: _dataset_lines([doc])


def _dataset_lines(docs: list[dict]) -> str:
    if not docs:
        return "no datasets"
    return "\n".join(
        f"{d['name']}  {d.get('displayName', '')!r}  {d['metadata'].get('predictionType', '')}  "
        f"{d.get('dataItemCount', '0')} videos  {d['metadata'].get('dataUri', '')}"
        for d in docs
    )


def _model_with_evaluations(registry: Registry, model) -> dict[str, Any]:
    evaluations = every_item(lambda token: registry.list_model_evaluations(model.versioned_name, page_token=token))
    return {**model.to_dict(), "evaluations": [e.to_dict() for e in evaluations]}


def _list_models(args, registry: Registry, project: str, location: str):
    found = _listed(registry.list_models, args, project, location)
    return [_model_with_evaluations(registry, m) for m in found], _model_lines


def _get_model(args, registry: Registry, project: str, location: str):
    record = registry.get_model(names.expand(args.name, names.MODELS, project, location))
    return _model_with_evaluations(registry, record), lambda doc: _model_lines([doc])


def _headline(evaluations: list[dict]) -> str:
    """The overall evaluation's headline metric (AU-PRC for classification), if there is one."""
    overall = next((e for e in evaluations if "annotationSpecId" not in e), None)
    if overall is None:
        return "not evaluated"
    metrics = overall.get("metrics", {})
    for key in ("auPrc", "boundingBoxMeanAveragePrecision", "trackingMeanAveragePrecision"):
        if key in metrics:
            return f"{key} {float(metrics[key]):.4f}"
    return f"{len(evaluations)} evaluations"


def _model_lines(docs: list[dict]) -> str:
    if not docs:
        return "no models"
    return "\n".join(
        f"{d['name']}@{d['versionId']}  {d.get('displayName', '')!r}  {d['metadata'].get('modelType', '')}  "
        f"aliases {','.join(d.get('versionAliases', []))}  {_headline(d['evaluations'])}  {d['artifactUri']}"
        for d in docs
    )


def _list_evaluations(args, registry: Registry, project: str, location: str):
    model = names.expand(args.model, names.MODELS, project, location)
    found = _listed(registry.list_model_evaluations, args, model)
    return [e.to_dict() for e in found], _evaluation_lines


def _get_evaluation(args, registry: Registry, project: str, location: str):
    return registry.get_model_evaluation(args.name).to_dict(), lambda doc: _evaluation_lines([doc])


def _evaluation_lines(docs: list[dict]) -> str:
    if not docs:
        return "no evaluations"
    return "\n".join(
        f"{d['name']}  {d.get('displayName') or '(overall)'}  {d.get('evaluatedExampleCount', 0)} examples  "
        f"{_headline([{k: v for k, v in d.items() if k != 'annotationSpecId'}])}"
        for d in docs
    )


def _list_jobs(args, registry: Registry, project: str, location: str):
    """Training pipelines, batch prediction jobs or both; with both, a filter only one kind accepts (a
    ``state`` of that kind, ``dataset_id`` or ``model``) selects that kind."""
    listings = {
        "training": registry.list_training_pipelines,
        "batch-prediction": registry.list_batch_prediction_jobs,
    }
    kinds = list(listings) if args.kind == "all" else [args.kind]
    found, refusals = [], []
    for kind in kinds:
        try:
            found += _listed(listings[kind], args, project, location)
        except ValueError as refused:
            refusals.append(refused)
    if len(refusals) == len(kinds):
        raise refusals[0]
    return [j.to_dict() for j in found], _job_lines


def _get_job(args, registry: Registry, project: str, location: str):
    if not args.name.startswith("projects/"):
        raise ValueError(
            f"{args.name!r}: give the job's full name (…/trainingPipelines/ID or …/batchPredictionJobs/ID)"
        )
    return registry.get_job(args.name).to_dict(), lambda doc: _job_lines([doc])


def _job_lines(docs: list[dict]) -> str:
    if not docs:
        return "no jobs"
    lines = []
    for d in docs:
        error = f"  error: {d['error'].get('message', '')}" if "error" in d else ""
        produced = d.get("modelToUpload", {}).get("name") or d.get("outputInfo", {}).get("gcsOutputDirectory", "")
        lines.append(f"{d['name']}  {d.get('displayName', '')!r}  {d['state']}  {produced}{error}")
    return "\n".join(lines)

"""``automl-video pipeline``: compile the Kubeflow pipelines, run them locally, submit or schedule them.

``run`` executes the DAG on this machine through ``kfp.local`` (each task a subprocess of
this Python, or with ``--containers`` a container of its image); ``submit`` and ``schedule`` send it
to a KFP API server. Every run records itself in the registry (``--registry-url``; the cluster's or
the local one by default). kfp loads only when a command runs: the handlers import
:mod:`automl_video_pipelines` modules that use it.
"""

import argparse
import logging
import os
from typing import TYPE_CHECKING, Any

from automl_video import storage
from automl_video.cli import UsageError, add_json_flag, emit
from automl_video.cli.evaluate import format_result
from automl_video.modeling.metadata import EXPORT_FORMATS, INFERENCE_BACKENDS, ModelType
from automl_video.tasks import TASK_MODULES
from automl_video_pipelines import BATCH_PREDICTION_PIPELINE, PIPELINE_NAMES, TRAINING_PIPELINE
from automl_video_pipelines.arguments import BatchPredictionArguments, TrainingArguments
from automl_video_pipelines.settings import ClusterSettings

if TYPE_CHECKING:
    from automl_video_pipelines.cluster import ClusterTarget
    from automl_video_pipelines.local import LocalRunResult

log = logging.getLogger(__name__)

DEFAULT_CRON = "0 0 2 * * *"
TOKEN_ENV = "AUTOML_VIDEO_KFP_TOKEN"


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "pipeline",
        help="compile, run locally (kfp.local), submit or schedule the Kubeflow pipelines",
        description="Compile the Kubeflow pipelines to YAML, run one on this machine through kfp.local, or "
        "submit or schedule one on a KFP cluster. Every run records itself in the registry.",
    )
    commands = parser.add_subparsers(dest="pipeline_command", required=True, metavar="COMMAND")

    compile_parser = commands.add_parser("compile", help="write the YAML of every pipeline")
    compile_parser.add_argument("--output", required=True, help="folder URL receiving <pipeline>.yaml files")
    _add_cluster_flags(compile_parser)
    add_json_flag(compile_parser)
    compile_parser.set_defaults(func=_compile)

    run_parser = commands.add_parser(
        "run",
        help="run a pipeline on this machine through kfp.local",
        description="Run a pipeline on this machine through kfp.local: each task a subprocess of this Python "
        "(or, with --containers, a container of its image). For a cluster, use 'pipeline submit'.",
    )
    run_parser.add_argument(
        "--local", action="store_true", help="run here: what 'run' always does (accepted for older scripts)"
    )
    run_parser.add_argument(
        "--pipeline-root", default="./pipeline-root", help="local folder receiving every task's artifacts"
    )
    run_parser.add_argument("--log-file", default=None, help="write the tasks' own output here instead of stderr")
    containers = run_parser.add_argument_group("every task in its image (kfp.local DockerRunner)")
    containers.add_argument(
        "--containers", action="store_true", help="run each task in a container of its image (--image/--gpu-image)"
    )
    containers.add_argument(
        "--docker-host",
        default="",
        metavar="URL",
        help="Docker-compatible engine socket, e.g. unix:///run/podman/podman.sock [$DOCKER_HOST]",
    )
    containers.add_argument(
        "--mount",
        action="append",
        default=[],
        metavar="DIR",
        help="host folder the tasks need besides those the parameters name (e.g. where the CSVs' videos are); repeatable",
    )
    _add_run_flags(run_parser)
    _add_cluster_flags(run_parser)
    add_json_flag(run_parser)
    run_parser.set_defaults(func=_run_local)

    submit_parser = commands.add_parser("submit", help="start one run on a KFP cluster")
    _add_target_flags(submit_parser)
    submit_parser.add_argument("--run-name", default="", help="display name of the run")
    _add_run_flags(submit_parser)
    _add_cluster_flags(submit_parser)
    add_json_flag(submit_parser)
    submit_parser.set_defaults(func=_submit)

    schedule_parser = commands.add_parser(
        "schedule",
        help="run a pipeline on a cron schedule on a KFP cluster (e.g. nightly retraining)",
        description="Upload the pipeline as a new version and create a recurring run. For retraining, pass "
        "--source PREFIX/ (every import CSV under it, listed when each run starts, so CSVs dropped there "
        "are picked up) and --serving-root (a new model serves only if its AU-PRC is at least the current one's).",
    )
    _add_target_flags(schedule_parser)
    schedule_parser.add_argument(
        "--cron", default=DEFAULT_CRON, help=f"6-field cron, seconds first (default {DEFAULT_CRON!r}: daily at 02:00)"
    )
    schedule_parser.add_argument("--name", default="", help="display name of the recurring run")
    _add_run_flags(schedule_parser)
    _add_cluster_flags(schedule_parser)
    add_json_flag(schedule_parser)
    schedule_parser.set_defaults(func=_schedule)


def _add_run_flags(parser: argparse.ArgumentParser) -> None:
    """The pipeline parameters (training by default; --pipeline batch-prediction for an existing model)."""
    defaults = TrainingArguments(sources=[])
    parser.add_argument(
        "--pipeline",
        choices=PIPELINE_NAMES,
        default=TRAINING_PIPELINE,
        help="training (import to batch prediction) or batch-prediction (an existing --model)",
    )
    training = parser.add_argument_group("training pipeline (AutoMLVideoTrainingJob.run)")
    training.add_argument(
        "--source",
        action="append",
        default=[],
        help="top-level import CSV (ML_USE,CSV_URI rows), glob, or PREFIX/ (every import CSV under it); repeatable",
    )
    training.add_argument(
        "--model-type",
        default=defaults.model_type,
        choices=[t.value for t in ModelType],
        metavar="MODEL_TYPE",
        help="CLOUD or MOBILE_VERSATILE_1; object tracking also "
        + ", ".join(t.value for t in ModelType if t.edge_device),
    )
    training.add_argument(
        "--prediction-type",
        choices=sorted(TASK_MODULES),
        default=defaults.prediction_type,
        help="prediction type of the dataset the pipeline imports",
    )
    training.add_argument("--training-fraction", type=float, default=None, help="with --test-fraction; default 0.8")
    training.add_argument("--test-fraction", type=float, default=None, help="with --training-fraction; default 0.2")
    training.add_argument("--dataset-display-name", default="", help="display name of the imported dataset")
    training.add_argument("--model-display-name", default="", help="display name of the trained model")
    training.add_argument(
        "--label", action="append", default=[], metavar="KEY=VALUE", help="model label (model_labels); repeatable"
    )
    training.add_argument("--budget-minutes", type=float, default=defaults.budget_minutes, help="training budget")
    training.add_argument("--seed", type=int, default=defaults.seed, help="split and training seed")
    training.add_argument("--exhaustive", action="store_true", help="unlabelled spans are negatives for every label")
    training.add_argument(
        "--max-error-fraction",
        type=float,
        default=defaults.max_error_fraction,
        help="the import fails (importing nothing) when more than this fraction of rows fail",
    )
    training.add_argument(
        "--export-format", default=defaults.export_format, choices=EXPORT_FORMATS, help="format of the export step"
    )
    training.add_argument(
        "--serving-root", default="", help="gate: promote the model to <root>/current if its AU-PRC is not lower"
    )
    prediction = parser.add_argument_group("batch prediction (after training, or --pipeline batch-prediction)")
    prediction.add_argument("--model", default="", help="batch-prediction pipeline: trained model folder URI")
    prediction.add_argument(
        "--predict-input", action="append", default=[], help="CSV (VIDEO_URI,START,END) or JSONL input; repeatable"
    )
    prediction.add_argument("--predictions-prefix", default="", help="where merged predictions go")
    prediction.add_argument(
        "--prediction-param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="e.g. score_threshold=0.3, shot_classification=true; repeatable",
    )
    prediction.add_argument("--shards", type=int, default=defaults.prediction_shards, help="parallel prediction tasks")
    prediction.add_argument(
        "--inference",
        default=defaults.prediction_inference,
        choices=INFERENCE_BACKENDS,
        help="how prediction scores clips (see 'automl-video predict --help')",
    )
    parser.add_argument(
        "--registry-url",
        default="",
        metavar="URL",
        help="registry the run records itself in; 'off' for none [on a cluster its automl-video-registry "
        "secret; locally $AUTOML_VIDEO_REGISTRY_URL, else ~/.automl-video/registry.sqlite]; a URL with a "
        "password belongs in that variable, not here (ps shows the command line)",
    )


def _add_cluster_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("cluster settings compiled into the YAML (default: AUTOML_VIDEO_* env)")
    env = ClusterSettings.ENV
    group.add_argument("--image", default=None, help=f"CPU image [{env['cpu_image']}]")
    group.add_argument("--gpu-image", default=None, help=f"GPU image for train/predict [{env['gpu_image']}]")
    group.add_argument(
        "--gpu-node-label",
        default=None,
        metavar="KEY=VALUE",
        help=f"node label of the GPU pool; '' for none [{env['gpu_node_label']}]",
    )
    group.add_argument("--gpu-taint", default=None, help=f"taint key GPU tasks tolerate [{env['gpu_taint']}]")
    group.add_argument("--accelerator", default=None, help=f"resource name [{env['accelerator']}]")
    group.add_argument("--gpus", type=int, default=None, help=f"GPUs per train/predict task [{env['gpus']}]")
    group.add_argument("--retries", type=int, default=None, help=f"retries of a failed task [{env['retries']}]")
    group.add_argument(
        "--cache",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="let KFP reuse earlier outputs of split/train/evaluate/export when their inputs are the same; "
        f"import, gate, prediction and record tasks always run (default on) [{env['enable_caching']}]",
    )


def _add_target_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", required=True, help="KFP API endpoint, e.g. http://localhost:8080")
    parser.add_argument("--namespace", default=None, help="multi-user KFP: the profile namespace")
    parser.add_argument("--experiment", default="automl-video", help="KFP experiment the runs are filed under")
    parser.add_argument(
        "--service-account", default="automl-video-runner", help="service account of the run's pods (k8s/base)"
    )
    parser.add_argument(
        "--pipeline-root",
        default=os.environ.get("AUTOML_VIDEO_PIPELINE_ROOT", ""),
        help="artifact root, e.g. gs://bucket/pipeline-root [AUTOML_VIDEO_PIPELINE_ROOT; else the cluster's]",
    )
    parser.add_argument(
        "--token-file",
        default="",
        metavar="FILE",
        help=f"file holding the API server's bearer token [${TOKEN_ENV}; a flag would show the token in ps]",
    )


# -- argument parsing ------------------------------------------------------------------------------


def _key_values(pairs: list[str], what: str) -> dict[str, str]:
    parsed = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{what} {pair!r} must be KEY=VALUE")
        parsed[key.strip()] = value.strip()
    return parsed


def pipeline_parameters(args: argparse.Namespace) -> dict[str, Any]:
    """The validated parameters of the pipeline chosen by ``--pipeline``."""
    prediction_params = _key_values(args.prediction_param, "--prediction-param")
    if args.pipeline == BATCH_PREDICTION_PIPELINE:
        if not args.model:
            raise UsageError("--pipeline batch-prediction needs --model (a trained model folder URI)")
        return BatchPredictionArguments(
            model_uri=args.model,
            inputs=args.predict_input,
            predictions_prefix=args.predictions_prefix,
            prediction_params=prediction_params,
            shards=args.shards,
            inference=args.inference,
            registry_url=args.registry_url,
        ).parameters()
    return TrainingArguments(
        sources=args.source,
        model_type=args.model_type,
        prediction_type=args.prediction_type,
        training_fraction_split=args.training_fraction,
        test_fraction_split=args.test_fraction,
        dataset_display_name=args.dataset_display_name,
        model_display_name=args.model_display_name,
        model_labels=_key_values(args.label, "--label"),
        budget_minutes=args.budget_minutes,
        seed=args.seed,
        exhaustive=args.exhaustive,
        max_error_fraction=args.max_error_fraction,
        export_format=args.export_format,
        serving_root=args.serving_root,
        prediction_inputs=args.predict_input,
        predictions_prefix=args.predictions_prefix,
        prediction_params=prediction_params,
        prediction_shards=args.shards,
        prediction_inference=args.inference,
        registry_url=args.registry_url,
    ).parameters()


def cluster_settings(args: argparse.Namespace) -> ClusterSettings:
    return ClusterSettings.from_env(
        cpu_image=args.image,
        gpu_image=args.gpu_image,
        gpu_node_label=args.gpu_node_label,
        gpu_taint=args.gpu_taint,
        accelerator=args.accelerator,
        gpus=args.gpus,
        retries=args.retries,
        enable_caching=args.cache,
    )


def _target(args: argparse.Namespace) -> "ClusterTarget":
    from automl_video_pipelines.cluster import ClusterTarget

    return ClusterTarget(
        host=args.host,
        namespace=args.namespace,
        experiment=args.experiment,
        service_account=args.service_account,
        pipeline_root=args.pipeline_root,
        token=_token(args.token_file),
    )


def _token(token_file: str) -> str:
    """The bearer token: from ``--token-file``, else ``$AUTOML_VIDEO_KFP_TOKEN``, else none."""
    if token_file:
        with open(os.path.expanduser(token_file), encoding="utf-8") as f:
            return f.read().strip()
    return os.environ.get(TOKEN_ENV, "").strip()


def warn_about_local_paths(args: argparse.Namespace) -> list[str]:
    """Warn (and return the warnings) for each local path a cluster run is given: its pods cannot read
    this machine's files, only what a volume mounts at that path (or gs://, s3:// ... URLs)."""
    named = [("--source", uri) for uri in args.source] + [("--predict-input", uri) for uri in args.predict_input]
    named += [
        (flag, uri)
        for flag, uri in (
            ("--model", args.model),
            ("--serving-root", args.serving_root),
            ("--predictions-prefix", args.predictions_prefix),
            ("--pipeline-root", args.pipeline_root),
        )
        if uri
    ]
    warnings = [
        f"{flag} {uri} is a local path: the cluster's pods read it only if a volume mounts it there "
        "(give a gs://, s3:// or other object-store URL)"
        for flag, uri in named
        if storage.is_local(uri)
    ]
    for warning in warnings:
        log.warning("%s", warning)
    return warnings


# -- handlers --------------------------------------------------------------------------------------


def _compile(args: argparse.Namespace) -> None:
    from automl_video_pipelines.compiling import compile_pipelines

    written = compile_pipelines(args.output, cluster_settings(args))
    emit(written, args.json, human=lambda w: "\n".join(f"{name}: {uri}" for name, uri in w.items()))


def _run_local(args: argparse.Namespace) -> None:
    parameters = pipeline_parameters(args)  # a bad value fails before kfp loads
    from automl_video_pipelines.containers import ContainerRunner
    from automl_video_pipelines.local import run_local

    containers = ContainerRunner(args.docker_host, tuple(args.mount)) if args.containers else None
    result = run_local(
        args.pipeline,
        parameters,
        args.pipeline_root,
        settings=cluster_settings(args),
        log_file=args.log_file,
        containers=containers,
    )
    emit(run_summary(result), args.json, human=format_run_summary)


def _submit(args: argparse.Namespace) -> None:
    parameters = pipeline_parameters(args)  # a bad value fails before kfp loads
    warn_about_local_paths(args)
    from automl_video_pipelines.cluster import submit

    result = submit(_target(args), args.pipeline, parameters, args.run_name, cluster_settings(args))
    emit(vars(result), args.json, human=lambda r: f"run {r['run_id']} started: {r['run_url']}")


def _schedule(args: argparse.Namespace) -> None:
    parameters = pipeline_parameters(args)  # a bad value fails before kfp loads
    warn_about_local_paths(args)
    from automl_video_pipelines.cluster import schedule

    result = schedule(_target(args), args.pipeline, parameters, args.cron, args.name, cluster_settings(args))
    emit(
        vars(result),
        args.json,
        human=lambda r: (
            f"recurring run {r['recurring_run_id']} on '{r['cron']}' "
            f"(pipeline {r['pipeline_id']}, version {r['pipeline_version_id']})"
        ),
    )


# -- what a local run produced ---------------------------------------------------------------------

# Output artifact of each task worth pointing a user at, in DAG order.
_OUTPUTS = (
    ("dataset", "split-dataset", "split"),
    ("model", "train-model", "model"),
    ("evaluation", "evaluate-model", "evaluation"),
    ("report", "evaluate-model", "report"),
    ("export", "export-model", "exported_model"),
    ("promotion", "promote-model", "promotion"),
)


def run_summary(result: "LocalRunResult") -> dict[str, Any]:
    """Where a local run's outputs are, its evaluation and gate decision, and how its time was spent."""
    outputs = {
        key: result.task(task).artifacts[name]
        for key, task, name in _OUTPUTS
        if result.has_task(task) and name in result.task(task).artifacts
    }
    summary: dict[str, Any] = {
        "pipeline": result.pipeline,
        "run_dir": result.run_dir,
        "outputs": outputs,
        "wall_seconds": round(result.wall_seconds, 1),
        "stage_seconds": round(result.stage_seconds, 1),
        "overhead_share": round(result.overhead_share, 3),
        "tasks": [t.name for t in result.tasks],
    }
    if result.has_task("evaluate-model"):
        summary["evaluation"] = result.task("evaluate-model").metadata["evaluation"]
    if result.has_task("promote-model"):
        summary["promotion"] = result.task("promote-model").metadata["promotion"]
    if result.has_task("merge-predictions"):
        summary["predictions"] = result.task("merge-predictions").metadata["predictions"]
        outputs["predictions"] = summary["predictions"]["output_dir"]
    summary["registered"] = {
        key: value
        for task in ("record-training-run", "record-batch-prediction")
        if result.has_task(task)
        for key, value in result.task(task).metadata["record"].items()
        if key in ("registry", "reason", "training_pipeline", "dataset", "model", "batch_prediction_job")
    }
    return summary


def format_run_summary(summary: dict[str, Any]) -> str:
    """The evaluation table, the gate's decision, the prediction counts, where outputs are, and timing."""
    lines = []
    if "evaluation" in summary:
        lines += [format_result(summary["evaluation"]), ""]
    if "promotion" in summary:
        promotion = summary["promotion"]
        if not promotion["pointer_uri"]:
            lines += [f"gate: {promotion['reason']}", ""]
        else:
            verdict = "promoted to" if promotion["promoted"] else "not promoted; serving stays"
            lines += [f"gate: {verdict} {promotion['serving_model_uri']} ({promotion['reason']})", ""]
    if "predictions" in summary:
        predictions = summary["predictions"]
        lines += [
            f"batch prediction: {predictions['total_rows']} rows, {predictions['succeeded_rows']} OK, "
            f"{predictions['failed_rows']} failed",
            "",
        ]
    registered = summary.get("registered", {})
    if registered.get("registry"):
        names = [
            registered[k] for k in ("training_pipeline", "dataset", "model", "batch_prediction_job") if k in registered
        ]
        lines += [f"recorded in {registered['registry']}: {', '.join(names)}", ""]
    elif registered.get("reason"):
        lines += [f"not recorded: {registered['reason']}", ""]
    lines.append("outputs:")
    width = max((len(key) for key in summary["outputs"]), default=0)
    lines += [f"  {key:<{width}}  {uri}" for key, uri in summary["outputs"].items()]
    lines += [
        f"  {'run':<{width}}  {summary['run_dir']}",
        "",
        f"wall time {summary['wall_seconds']:.1f}s: stages working {summary['stage_seconds']:.1f}s, "
        f"orchestration overhead {100 * summary['overhead_share']:.0f}% "
        f"(task processes, imports, artifact handling; {len(summary['tasks'])} tasks)",
    ]
    return "\n".join(lines)

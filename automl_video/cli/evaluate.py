"""``automl-video evaluate``: AutoML evaluations of a model on its dataset's TEST split."""

import argparse
from typing import Any

from automl_video.cli import add_json_flag, emit


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="evaluate a model on the TEST split (AutoML ModelEvaluation JSON, KFP metrics, HTML report)",
        description="Score every TEST segment (object tracking: every labelled TEST frame) and write "
        "evaluations.json (overall first, then one per label), metrics.json, report.html, predictions.jsonl and "
        "the task's files under --output (classification: pr_curve.json, confusion_matrix.json for multiclass "
        "<= 10 labels; object tracking: track_metrics.json).",
    )
    parser.add_argument("--model", required=True, help="trained model folder URI")
    parser.add_argument("--dataset", required=True, help="dataset URI whose TEST split is evaluated")
    parser.add_argument("--output", required=True, help="folder URI receiving the evaluation files")
    parser.add_argument("--model-name", default="", help="model resource name used in each evaluation's name")
    add_json_flag(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from automl_video.evaluation import evaluate  # TensorFlow loads only when the command runs

    result = evaluate(args.model, args.dataset, args.output, model_name=args.model_name)
    emit(result.to_json(), args.json, human=format_result)


def format_result(doc: dict[str, Any]) -> str:
    """The task's headline table, then where the evaluations and the report are."""
    from automl_video.tasks import get_task

    summary = get_task(doc["prediction_type"]).evaluator().format_summary(doc)
    return "\n".join([summary, "", f"evaluations: {doc['evaluations_uri']}", f"report:      {doc['report_uri']}"])

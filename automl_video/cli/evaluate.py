"""``automl-video evaluate``: AutoML evaluations of a model on its dataset's TEST split."""

import argparse
from typing import Any

from automl_video.cli import add_json_flag, emit


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="evaluate a model on the TEST split (AutoML ModelEvaluation JSON, KFP metrics, HTML report)",
        description="Score every TEST segment and write evaluations.json (overall first, then one per label), "
        "metrics.json, pr_curve.json, confusion_matrix.json (multiclass, <= 10 labels), report.html and "
        "predictions.jsonl under --output.",
    )
    parser.add_argument("--model", required=True, help="trained model folder URI")
    parser.add_argument("--dataset", required=True, help="dataset URI whose TEST split is evaluated")
    parser.add_argument("--output", required=True, help="folder URI receiving the evaluation files")
    parser.add_argument("--model-name", default="", help="model resource name used in each evaluation's name")
    add_json_flag(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from automl_video.evaluate import evaluate  # TensorFlow loads only when the command runs

    result = evaluate(args.model, args.dataset, args.output, model_name=args.model_name)
    emit(result.to_json(), args.json, human=format_result)


def format_result(doc: dict[str, Any]) -> str:
    """Overall AU-PRC and a per-label table (precision/recall/F1 at threshold 0.5)."""
    width = max([len("label")] + [len(label["display_name"]) for label in doc["labels"]])
    lines = [
        f"Evaluated {doc['evaluated_example_count']} TEST segments",
        f"AU-PRC {doc['au_prc']:.4f} (base {doc['base_au_prc']:.4f}); at threshold 0.5: precision "
        f"{doc['precision']:.3f}, recall {doc['recall']:.3f}, F1 {doc['f1_score']:.3f}",
        "",
        f"{'label':<{width}}  {'examples':>8}  {'AU-PRC':>7}  {'prec@.5':>7}  {'rec@.5':>7}  {'F1@.5':>7}",
    ]
    for label in doc["labels"]:
        lines.append(
            f"{label['display_name']:<{width}}  {label['evaluated_example_count']:>8}  {label['au_prc']:>7.4f}  "
            f"{label['precision']:>7.3f}  {label['recall']:>7.3f}  {label['f1_score']:>7.3f}"
        )
    lines += ["", f"evaluations: {doc['evaluations_uri']}", f"report:      {doc['report_uri']}"]
    return "\n".join(lines)

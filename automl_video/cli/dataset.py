"""``automl-video dataset import | split | describe``: build a dataset from AutoML CSVs and split it."""

import dataclasses

from automl_video.cli import add_json_flag, emit
from automl_video.cli.registry import add_registry_flags, recorder
from automl_video.data import describe, importer, splits
from automl_video.tasks import DEFAULT_PREDICTION_TYPE, TASK_MODULES, get_task


def register(subparsers) -> None:
    group = subparsers.add_parser("dataset", help="import AutoML Video CSVs, split and describe a dataset")
    commands = group.add_subparsers(dest="dataset_command", required=True)

    parser = commands.add_parser(
        "import",
        help="import AutoML or Vertex import files into a dataset, all or nothing",
        description="Import labelled videos from AutoML two-level CSVs, Vertex CSVs or Vertex JSONL files, all "
        "or nothing: every row is checked and every video probed first; if a file cannot be read or too many "
        "rows fail, nothing is imported and an existing dataset stays as it was. Failed rows are reported "
        "under <dataset>/imports/.",
    )
    parser.add_argument(
        "--source",
        action="append",
        required=True,
        metavar="URI",
        help="AutoML top-level CSV (ML_USE,CSV_URI rows), Vertex CSV or Vertex JSONL (repeatable)",
    )
    parser.add_argument("--dataset", required=True, metavar="URI", help="dataset folder (created or appended to)")
    parser.add_argument("--exhaustive", action="store_true", help="unlabelled frames are negatives for every label")
    parser.add_argument(
        "--max-error-fraction",
        type=float,
        default=0.1,
        metavar="F",
        help="fail (importing nothing) when more than this fraction of rows fail (default 0.1)",
    )
    parser.add_argument("--display-name", default="", metavar="NAME", help="dataset display name")
    parser.add_argument(
        "--prediction-type",
        choices=sorted(TASK_MODULES),
        default=DEFAULT_PREDICTION_TYPE,
        help="prediction type of a new dataset (an existing one keeps its own and refuses another)",
    )
    add_registry_flags(parser)
    add_json_flag(parser)
    parser.set_defaults(func=_import)

    parser = commands.add_parser(
        "split", help="assign videos to TRAIN / VALIDATION / TEST", description=splits.__doc__.split("\n\n")[0]
    )
    parser.add_argument("--dataset", required=True, metavar="URI", help="dataset folder")
    parser.add_argument("--training-fraction", type=float, metavar="F", help="share of UNASSIGNED videos for training")
    parser.add_argument("--test-fraction", type=float, metavar="F", help="share of UNASSIGNED videos for TEST")
    parser.add_argument("--seed", type=int, help="hash seed (default: the previous split's, else 0)")
    parser.add_argument("--resplit", action="store_true", help="discard earlier assignments and split from scratch")
    add_json_flag(parser)
    parser.set_defaults(func=_split)

    parser = commands.add_parser("describe", help="counts per label and split, and failed rows")
    parser.add_argument("--dataset", required=True, metavar="URI", help="dataset folder")
    add_json_flag(parser)
    parser.set_defaults(func=_describe)


def _import(args) -> None:
    """Import, then record the dataset (a refused import imports nothing and records nothing)."""
    with recorder(args) as recording:
        result = importer.import_data(
            args.source, args.dataset, args.exhaustive, args.max_error_fraction, args.display_name, args.prediction_type
        )
        doc = dataclasses.asdict(result)
        if recording is not None:
            doc["registered"] = {"dataset": recording.dataset(args.dataset, args.source, args.display_name).name}
    emit(doc, args.json, human=_import_summary)


def _import_summary(result: dict) -> str:
    noun = get_task(result["prediction_type"]).annotations.noun
    lines = [
        f"imported {result['imported_rows']} rows into {result['dataset_uri']}: "
        f"{result['videos_added']} new videos, {result['annotations_added']} new {noun}; "
        f"{result['failed_rows']} rows failed (report: {result['report_uri']})"
    ]
    lines += [f"  {f['uri']} row {f['row']}: {f['message']}" for f in result["partial_failures"]]
    lines += [f"  note: {note}" for note in result["notes"]]
    lines += [f"registered as {name}" for name in result.get("registered", {}).values()]
    return "\n".join(lines)


def _split(args) -> None:
    result = splits.split_dataset(args.dataset, args.training_fraction, args.test_fraction, args.seed, args.resplit)
    emit(dataclasses.asdict(result), args.json, human=_split_summary)


def _split_summary(result: dict) -> str:
    noun = get_task(result["prediction_type"]).annotations.noun
    counts = ", ".join(
        f"{name} {c['videos']} videos / {c['annotations']} {noun}" for name, c in result["counts"].items()
    )
    # Warnings are logged on stderr already.
    lines = [f"split {result['dataset_uri']} (seed {result['seed']}): {counts}; {result['left_out']} videos left out"]
    return "\n".join(lines + _held_out_lines(result["held_out_labels"], "  "))


def _held_out_lines(held_out: list[dict], indent: str) -> list[str]:
    """Which labels VALIDATION sees in held-out stretches of TRAIN videos (too few videos to split)."""
    return [
        f"{indent}label {h['label']!r}: VALIDATION from held-out stretches of {h['videos']} TRAIN videos "
        f"({h['seconds']:g} s; {h['gap_seconds']:g} s unused on each side)"
        for h in held_out
    ]


def _describe(args) -> None:
    emit(dataclasses.asdict(describe.describe(args.dataset)), args.json, human=_describe_summary)


def _describe_summary(doc: dict) -> str:
    noun = get_task(doc["prediction_type"]).annotations.noun
    lines = [
        f"{doc['display_name']}: {doc['video_count']} videos, {doc['annotation_count']} {noun} ({doc['prediction_type']})"
    ]
    lines += [f"  {name:<10} {c['videos']:>6} videos {c['annotations']:>7} {noun}" for name, c in doc["splits"].items()]
    lines += [
        f"  label {s['display_name']!r} (id {s['id']}): {s['example_count']} {noun} in {s['video_count']} videos"
        for s in doc["annotation_specs"]
    ]
    lines += _held_out_lines(doc["held_out_labels"], "  ")
    lines.append(f"  failed rows: {doc['failed_row_count']}")
    lines += [f"    {f['uri']} row {f['row']}: {f['message']}" for f in doc["partial_failures"]]
    return "\n".join(lines)

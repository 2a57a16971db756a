"""``automl-video synth``: write a synthetic dataset of a prediction type (videos and import files)."""

import dataclasses

from automl_video import synth
from automl_video.cli import add_json_flag, emit
from automl_video.tasks import DEFAULT_PREDICTION_TYPE, TASK_MODULES, get_task


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "synth",
        help="generate synthetic videos and their import files (tests and demos need no downloads)",
        description="Write synthetic videos of moving shapes and the import files of a prediction type: "
        "classification classes differ only by motion, so a model has to use time.",
    )
    parser.add_argument("--output", required=True, help="folder URL to write (local path or gs://...)")
    parser.add_argument(
        "--task", choices=sorted(TASK_MODULES), default=DEFAULT_PREDICTION_TYPE, help="prediction type of the dataset"
    )
    defaults = synth.SynthOptions()
    parser.add_argument("--classes", type=int, default=defaults.classes, help=f"classes, 2..{len(synth.MOTIONS)}")
    parser.add_argument("--videos-per-class", type=int, default=defaults.videos_per_class, help="videos of each class")
    parser.add_argument("--seconds", type=float, default=defaults.seconds, help="length of each video")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="same seed, byte-identical videos")
    parser.add_argument("--width", type=int, default=defaults.width, help="frame width in pixels")
    parser.add_argument("--height", type=int, default=defaults.height, help="frame height in pixels")
    parser.add_argument("--fps", type=int, default=defaults.fps, help="frames per second")
    add_json_flag(parser)
    parser.set_defaults(func=_run)


def _run(args) -> None:
    options = synth.SynthOptions(
        classes=args.classes,
        videos_per_class=args.videos_per_class,
        seconds=args.seconds,
        seed=args.seed,
        width=args.width,
        height=args.height,
        fps=args.fps,
    )
    result = get_task(args.task).synthesize(args.output, options)
    emit(dataclasses.asdict(result), args.json, human=_describe)


def _describe(result: dict) -> str:
    lines = [
        f"wrote {len(result['videos'])} videos of {len(result['class_names'])} classes "
        f"({', '.join(result['class_names'])})",
        f"import file: {result.get('import_csv') or result.get('import_jsonl')}",
    ]
    lines += [f"  {use}: {uri}" for use, uri in result.get("csvs", {}).items()]
    return "\n".join(lines)

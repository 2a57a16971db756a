"""``automl-video synth``: write a synthetic motion-classification dataset (videos + import CSVs)."""

import dataclasses

from automl_video import synth
from automl_video.tasks.classification import synth as classification_synth
from automl_video.cli import add_json_flag, emit


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "synth",
        help="generate synthetic motion videos and AutoML import CSVs",
        description=classification_synth.generate.__doc__.splitlines()[0],
    )
    parser.add_argument("--output", required=True, help="folder URL to write (local path or gs://...)")
    parser.add_argument("--classes", type=int, default=4, help=f"motion classes, 2..{len(synth.MOTIONS)}")
    parser.add_argument("--videos-per-class", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each video")
    parser.add_argument("--seed", type=int, default=0, help="same seed, byte-identical videos")
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--height", type=int, default=128)
    parser.add_argument("--fps", type=int, default=15)
    add_json_flag(parser)
    parser.set_defaults(func=_run)


def _run(args) -> None:
    result = classification_synth.generate(
        args.output,
        classes=args.classes,
        videos_per_class=args.videos_per_class,
        seconds=args.seconds,
        seed=args.seed,
        width=args.width,
        height=args.height,
        fps=args.fps,
    )
    emit(dataclasses.asdict(result), args.json, human=_describe)


def _describe(result: dict) -> str:
    lines = [
        f"wrote {len(result['videos'])} videos of {len(result['class_names'])} classes "
        f"({', '.join(result['class_names'])})",
        f"import CSV: {result['import_csv']}",
    ]
    lines += [f"  {use}: {uri}" for use, uri in result["csvs"].items()]
    return "\n".join(lines)

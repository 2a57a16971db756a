"""Does MOBILE_VERSATILE_1 learn motion? TEST AU-PRC on synthetic motion classes, then time-shuffled.

The synthetic classes differ only by how an object moves (left→right vs right→left, ...), so one frame
cannot tell them apart. The benchmark trains MOBILE_VERSATILE_1 with its default input spec within a
wall-clock budget (decoding included, fresh clip cache) and evaluates TEST. It then re-encodes every
video with the frames of each labelled segment in a random order (same videos, labels and split) and
trains and evaluates the same way: a model that uses motion must do clearly worse there.

Goal (issue 3): TEST AU-PRC >= 0.98 within 5 minutes on 2 CPU cores. Prints numbers, asserts nothing.

    python benchmarks/motion_ablation.py [--work DIR] [--budget-minutes 5] [--classes 4] [--videos-per-class 20]
"""

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time

import numpy as np

from automl_video import evaluation, synth, video
from automl_video.data import dataset as dataset_lib
from automl_video.data import importer, splits
from automl_video.modeling.metadata import ModelType
from automl_video.progress import setup_logging
from automl_video.tasks.classification import synth as classification_synth
from automl_video.tasks.classification.network import ClassificationNetworks
from automl_video.training.engine import train


def time_shuffled_copy(dataset_uri: str, output: str, seed: int) -> str:
    """The dataset with each video re-encoded, frames inside every segment in a random order."""
    dataset = dataset_lib.load(dataset_uri)
    rng = np.random.default_rng(seed)
    for index, item in enumerate(dataset.videos):
        with video.VideoReader(item.uri) as reader:
            fps = reader.info.fps
            timed = list(reader.frames())
        times = np.array([t for t, _ in timed])
        frames = [f for _, f in timed]
        for segment in item.annotations:
            inside = np.flatnonzero((times >= segment.start - 1e-6) & (times < segment.end - 1e-6))
            shuffled = rng.permutation(inside)
            frames_inside = [frames[i] for i in shuffled]
            for position, frame in zip(inside, frames_inside):
                frames[position] = frame
        path = os.path.join(output, "videos", f"shuffled{index:04d}.mp4")
        synth.make_video(path, frames, fps=fps)
        item.uri, item.uris = path, [path]
        item.content_hash = video.content_hash(path)
        item.video_id = item.content_hash[:16]
    shuffled_uri = os.path.join(output, "dataset")
    dataset_lib.save(dataset, shuffled_uri)
    return shuffled_uri


def train_and_test(dataset_uri: str, work: str, name: str, budget_minutes: float, seed: int) -> dict:
    model_uri = os.path.join(work, f"model-{name}")
    started = time.monotonic()
    result = train(
        dataset_uri,
        model_uri,
        ModelType.MOBILE_VERSATILE_1.value,
        budget_minutes=budget_minutes,
        seed=seed,
        cache_dir=os.path.join(work, f"cache-{name}"),
    )
    seconds = time.monotonic() - started
    evaluated = evaluation.evaluate(model_uri, dataset_uri, os.path.join(work, f"evaluation-{name}"))
    return {
        "frames": name,
        "test_au_prc": round(evaluated.summary.au_prc, 4),
        "test_base_au_prc": round(evaluated.summary.base_au_prc, 4),
        "test_examples": evaluated.evaluated_example_count,
        "best_val_au_prc": round(result.best_validation_score, 4),
        "epochs": result.epochs,
        "best_epoch": result.best_epoch,
        "stop_reason": result.stop_reason,
        "train_seconds": round(seconds, 1),
        "train_examples": result.train_examples,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", help="folder for videos, datasets and models (default: a temporary one)")
    parser.add_argument("--budget-minutes", type=float, default=5.0)
    parser.add_argument("--classes", type=int, default=4)
    parser.add_argument("--videos-per-class", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-shuffled", action="store_true", help="only the ordered-frames run")
    args = parser.parse_args()
    setup_logging()
    work = args.work or tempfile.mkdtemp(prefix="motion-ablation-")
    print(f"work folder: {work}; {os.cpu_count()} CPU cores", file=sys.stderr)
    spec = ClassificationNetworks().default_input_spec(ModelType.MOBILE_VERSATILE_1)
    generated = classification_synth.generate(
        os.path.join(work, "synth"), classes=args.classes, videos_per_class=args.videos_per_class, seed=args.seed
    )
    dataset_uri = os.path.join(work, "dataset")
    importer.import_data([generated.import_csv], dataset_uri)
    split = splits.split_dataset(dataset_uri, seed=args.seed)
    rows = [train_and_test(dataset_uri, work, "ordered", args.budget_minutes, args.seed)]
    if not args.skip_shuffled:
        shuffled_uri = time_shuffled_copy(dataset_uri, os.path.join(work, "shuffled"), args.seed)
        rows.append(train_and_test(shuffled_uri, work, "time-shuffled", args.budget_minutes, args.seed))
    report = {
        "model_type": ModelType.MOBILE_VERSATILE_1.value,
        "input_spec": dataclasses.asdict(spec),
        "classes": generated.class_names,
        "videos_per_class": args.videos_per_class,
        "split": {name: dataclasses.asdict(count) for name, count in split.counts.items()},
        "budget_minutes": args.budget_minutes,
        "cpu_cores": os.cpu_count(),
        "runs": rows,
        "goal": "ordered TEST AU-PRC >= 0.98; time-shuffled clearly lower",
    }
    if len(rows) == 2:
        report["ordered_minus_shuffled"] = round(rows[0]["test_au_prc"] - rows[1]["test_au_prc"], 4)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

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

import numpy as np
from time_shuffling import reordered_copy, train_and_evaluate

from automl_video.data import importer, splits
from automl_video.modeling.metadata import ModelType
from automl_video.progress import setup_logging
from automl_video.tasks.classification import synth as classification_synth
from automl_video.tasks.classification.network import ClassificationNetworks


def frames_shuffled_inside_segments(item, times: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The frames inside every segment in a random order (segment by segment); the others in place."""
    order = np.arange(len(times))
    for segment in item.annotations:
        inside = np.flatnonzero((times >= segment.start - 1e-6) & (times < segment.end - 1e-6))
        order[inside] = order[rng.permutation(inside)]
    return order


def train_and_test(dataset_uri: str, work: str, name: str, budget_minutes: float, seed: int) -> dict:
    run = train_and_evaluate(dataset_uri, work, name, budget_minutes, seed)
    result, evaluated = run.result, run.evaluated
    return {
        "frames": name,
        "test_au_prc": round(evaluated.summary.au_prc, 4),
        "test_base_au_prc": round(evaluated.summary.base_au_prc, 4),
        "test_examples": evaluated.evaluated_example_count,
        "best_val_au_prc": round(result.best_validation_score, 4),
        "epochs": result.epochs,
        "best_epoch": result.best_epoch,
        "stop_reason": result.stop_reason,
        "train_seconds": round(run.train_seconds, 1),
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
        shuffled_uri = reordered_copy(
            dataset_uri, os.path.join(work, "shuffled"), args.seed, frames_shuffled_inside_segments
        )
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

"""Object tracking quality: TEST box mAP at IoU 0.5 and ID switches per track on synthetic moving shapes.

Generates ``automl-video synth --task object_tracking`` videos (3 shape classes, 2 to 4 objects per
video with occlusions and objects leaving and re-entering the frame), imports the AutoML CSV, splits
80/20 (then 70/30 of the training pool), trains MOBILE_VERSATILE_1 within a wall-clock budget
(decoding included, fresh clip cache) and evaluates TEST as ``automl-video evaluate`` does (detector
plus tracker on the labelled frames).

Goal (issue 15): TEST box mAP@0.5 >= 0.8 after <= 15 minutes of training on 2 CPU cores; prints the ID
switches per track too. Prints numbers, asserts nothing. Run it alone on the machine:

    flock /tmp/automl-video-benchmark.lock python benchmarks/object_tracking_quality.py \
        [--work DIR] [--budget-minutes 15] [--classes 3] [--videos-per-class 20] [--model-type MOBILE_VERSATILE_1]
"""

import argparse
import collections
import json
import os
import sys
import tempfile
import time

from automl_video import evaluation, storage
from automl_video.data import importer, splits
from automl_video.progress import setup_logging
from automl_video.synth import SynthOptions
from automl_video.tasks import get_task
from automl_video.training.engine import train


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", default="", help="folder for data and models (default: a temporary one)")
    parser.add_argument("--budget-minutes", type=float, default=15.0)
    parser.add_argument("--classes", type=int, default=3)
    parser.add_argument("--videos-per-class", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--model-type", default="MOBILE_VERSATILE_1")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    setup_logging()
    work = args.work or tempfile.mkdtemp(prefix="automl-video-tracking-bench-")
    load_before = os.getloadavg()
    started = time.monotonic()
    data = get_task("object_tracking").synthesize(
        os.path.join(work, "synth"),
        SynthOptions(
            classes=args.classes, videos_per_class=args.videos_per_class, seconds=args.seconds, seed=args.seed
        ),
    )
    dataset_uri = os.path.join(work, "dataset")
    importer.import_data([data.import_csv], dataset_uri, prediction_type="object_tracking")
    split = splits.split_dataset(dataset_uri, seed=args.seed)
    model_uri = os.path.join(work, "model")
    trained = train(
        dataset_uri,
        model_uri,
        model_type=args.model_type,
        budget_minutes=args.budget_minutes,
        seed=args.seed,
        cache_dir=os.path.join(work, "cache"),
    )
    result = evaluation.evaluate(model_uri, dataset_uri, os.path.join(work, "evaluation"))
    tracks = storage.read_json(result.files["track_metrics"])
    summary = result.summary
    switches = collections.Counter(i["id_switches"] for i in tracks["instances"])
    report = {
        "goal": "TEST box mAP@0.5 >= 0.8 after <= 15 minutes of training on 2 CPU cores",
        "model_type": args.model_type,
        "budget_minutes": args.budget_minutes,
        "train_seconds": round(trained.elapsed_seconds, 1),
        "epochs": trained.epochs,
        "stop_reason": trained.stop_reason,
        "best_validation_box_map_50": round(trained.best_validation_score, 4),
        "train_frames": trained.train_examples,
        "validation_frames": trained.validation_examples,
        "test_videos": split.counts["TEST"].videos,
        "test_frames": summary.evaluated_frame_count,
        "test_boxes": summary.evaluated_bounding_box_count,
        "test_box_map_50": round(summary.box_map_50, 4),
        "test_box_map_iou_grid": round(summary.box_map, 4),
        "per_label_box_map_50": {label.display_name: round(label.box_map_50, 4) for label in summary.labels},
        "mean_track_iou": round(summary.mean_track_iou, 4),
        "id_switches": summary.id_switches,
        "tracks": tracks["instance_count"],
        "id_switches_per_track": round(summary.id_switches_per_track, 4),
        "tracks_by_id_switches": dict(sorted(switches.items())),
        "mismatch_rate": round(summary.mismatch_rate, 4),
        "goal_met": summary.box_map_50 >= 0.8 and args.budget_minutes <= 15,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "wall_seconds": round(time.monotonic() - started, 1),
        "work": work,
    }
    json.dump(report, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``automl-video train``: train (or resume training) a model of the dataset's prediction type."""

import argparse

from automl_video import records
from automl_video.cli import add_json_flag, emit
from automl_video.cli.registry import add_registry_flags, recorded_job, recorder
from automl_video.modeling.metadata import ModelType


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a model of the dataset's prediction type on a split dataset (resumes after a crash)",
        description=(
            "Train on the TRAIN split with early stopping on the task's VALIDATION score (classification: "
            "AU-PRC; object tracking: box mAP at IoU 0.5), within a wall-clock budget. "
            "Checkpoints go to the model folder every epoch: rerunning the same command after a crash "
            "or kill continues from the last one."
        ),
    )
    parser.add_argument("--dataset", required=True, help="dataset folder URL (imported and split)")
    parser.add_argument("--model", required=True, help="model folder URL to write (local path, gs://, s3://, ...)")
    parser.add_argument(
        "--model-type",
        default="MOBILE_VERSATILE_1",
        choices=[t.value for t in ModelType],
        metavar="MODEL_TYPE",
        help="MOBILE_VERSATILE_1 (small, exportable to TF/TFLite; default) or CLOUD (bigger, not exportable); "
        "object tracking also MOBILE_CORAL_VERSATILE_1, MOBILE_CORAL_LOW_LATENCY_1 (int8 TFLite for the Edge "
        "TPU), MOBILE_JETSON_VERSATILE_1, MOBILE_JETSON_LOW_LATENCY_1",
    )
    parser.add_argument(
        "--budget-minutes", type=float, help="wall-clock budget over all runs, decoding included (default 60)"
    )
    parser.add_argument("--seed", type=int, help="fixes initialisation, data order and augmentation (default 0)")
    parser.add_argument("--max-epochs", type=int, help="upper bound on epochs (default 200)")
    parser.add_argument(
        "--patience", type=int, help="epochs without VALIDATION improvement before stopping (default 20)"
    )
    parser.add_argument("--init-weights", help="a trained automl-video model folder to start from (transfer learning)")
    parser.add_argument("--num-frames", type=int, help="frames per clip (default by model type)")
    parser.add_argument("--image-size", help="HEIGHTxWIDTH of the frames, e.g. 112x112 (default by model type)")
    parser.add_argument(
        "--clips-per-segment", type=int, help="clips averaged per segment at inference (default by model type)"
    )
    parser.add_argument("--batch-size", type=int, help="clips per step per accelerator (default by model type)")
    parser.add_argument(
        "--cache-dir", help="local folder of decoded clips (default $AUTOML_VIDEO_CACHE or ~/.cache/automl-video/clips)"
    )
    parser.add_argument("--cache-gb", type=float, help="size budget of the clip cache in GB (default 20)")
    parser.add_argument("--display-name", help="the model's display name (default: last part of --model)")
    add_registry_flags(parser)
    add_json_flag(parser)
    parser.set_defaults(func=_train)


def _input_spec(args: argparse.Namespace, model_type: str):
    """The default input spec of the model type with the flags given applied on top (None if no flag)."""
    if args.num_frames is None and args.image_size is None and args.clips_per_segment is None:
        return None
    from automl_video.data import dataset as dataset_lib
    from automl_video.modeling.metadata import parse_model_type
    from automl_video.tasks import get_task

    prediction_type = dataset_lib.load(args.dataset).prediction_type
    networks = get_task(prediction_type).networks()
    spec = networks.default_input_spec(parse_model_type(model_type, prediction_type))
    if args.num_frames is not None:
        spec.num_frames = args.num_frames
    if args.image_size is not None:
        height, _, width = args.image_size.lower().partition("x")
        try:
            spec.height, spec.width = int(height), int(width or height)
        except ValueError:
            raise ValueError(f"--image-size {args.image_size!r}: expected HEIGHTxWIDTH, e.g. 112x112") from None
    if args.clips_per_segment is not None:
        spec.clips_per_segment = args.clips_per_segment
    return spec


def _train(args: argparse.Namespace):
    from automl_video.training import engine as train_lib

    given = {
        "budget_minutes": args.budget_minutes,
        "seed": args.seed,
        "max_epochs": args.max_epochs,
        "patience": args.patience,
        "init_weights": args.init_weights,
        "input_spec": _input_spec(args, args.model_type),
        "batch_size": args.batch_size,
        "cache_dir": args.cache_dir,
        "cache_gb": args.cache_gb,
        "display_name": args.display_name,
    }
    options = {name: value for name, value in given.items() if value is not None}  # the rest: library defaults
    with recorder(args) as recording:
        dataset = recording.dataset(args.dataset) if recording else None
        with recorded_job(recording, lambda r: _start_job(r, args, dataset)) as job:
            doc = train_lib.train(args.dataset, args.model, model_type=args.model_type, **options).to_json()
            if job is not None:
                version = records.ModelVersionOptions(display_name=args.display_name or "")
                model = recording.model(
                    args.model,
                    dataset_id=dataset.resource_id if dataset else None,
                    training_pipeline=job.name,
                    options=version,
                )
                recording.finish_training(job.name, model)
                doc["registered"] = {"training_pipeline": job.name, "model": model.versioned_name}
    emit(doc, args.json, human=_summary)


def _start_job(recording: records.Recorder, args: argparse.Namespace, dataset):
    """The training pipeline job of a ``train`` command, RUNNING while it trains."""
    return recording.start_training(
        display_name=f"automl-video train {args.model}"[:128],
        prediction_type=dataset.prediction_type,
        model_type=args.model_type,
        dataset=dataset,
        model_display_name=args.display_name or "",
        run_info={"backend": "cli", "model_uri": args.model},
    )


def _summary(doc: dict) -> str:
    from automl_video.tasks import get_task

    metric = get_task(doc["prediction_type"]).training().validation_metric_title
    spec = doc["input_spec"]
    resumed = f", resumed from epoch {doc['resumed_from_epoch']}" if doc["resumed_from_epoch"] else ""
    failed = f"; {doc['failed_clips']} undecodable spans left out" if doc["failed_clips"] else ""
    calibration = doc["calibration"]
    calibrated = (
        f"; scores calibrated on VALIDATION ({calibration['method']}): F1 at 0.5 {calibration['f1_before']:.2f} → "
        f"{calibration['f1_after']:.2f}"
        if calibration
        else ""
    )
    registered = "".join(f"\nregistered as {name}" for name in doc.get("registered", {}).values())
    return (
        f"trained {doc['model_type']} ({spec['num_frames']}x{spec['height']}x{spec['width']}) at {doc['model_uri']}: "
        f"best VALIDATION {metric} {doc['best_validation_score']:.4f} at epoch {doc['best_epoch']} of {doc['epochs']} "
        f"({doc['stop_reason']}{resumed}); {doc['train_examples']} TRAIN / {doc['validation_examples']} VALIDATION "
        f"examples, {doc['elapsed_seconds']:.0f}s{failed}{calibrated}{registered}"
    )

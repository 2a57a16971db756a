"""``automl-video predict``: batch prediction in the AutoML CSV or Vertex JSONL formats."""

import argparse
import logging
import time

from automl_video import records
from automl_video.cli import add_json_flag, emit
from automl_video.cli.registry import add_registry_flags, recorded_job, recorder
from automl_video.modeling.metadata import INFERENCE_BACKENDS

log = logging.getLogger(__name__)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="batch-predict videos with a trained model",
        description=(
            "Predict the time segments listed in AutoML CSV files (VIDEO_URI,START,END) or Vertex JSONL "
            "instances with the model's prediction type (classification: labels of the segment, shots or "
            "1-second intervals; object tracking: tracks of boxes, frames at --param frameRate=F, default 10 "
            "per second), writing prediction-<model>-<timestamp>/ under --output-prefix. A rerun of an "
            "interrupted run resumes it; --shard I/N runs one share of the rows, --merge assembles them."
        ),
    )
    parser.add_argument("--model", required=True, metavar="URI", help="trained model folder URL")
    parser.add_argument(
        "--input", action="append", required=True, metavar="URI", help=".csv or .jsonl input (repeatable)"
    )
    parser.add_argument(
        "--output-prefix", required=True, metavar="URI", help="folder URL under which the output folder is made"
    )
    parser.add_argument(
        "--score-threshold",
        type=float,
        default=None,
        metavar="X",
        help="drop labels scoring below this (0 to 1, default 0)",
    )
    # Classification's types; flags left out are not sent, so other prediction types take their own defaults.
    parser.add_argument(
        "--segment",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="classification: classify each requested segment as a whole (default on)",
    )
    parser.add_argument(
        "--shot", action="store_true", default=None, help="classification: also detect camera shots and classify each"
    )
    parser.add_argument(
        "--one-sec", action="store_true", default=None, help="classification: also classify every 1-second interval"
    )
    parser.add_argument(
        "--max-predictions",
        type=int,
        default=None,
        metavar="N",
        help="keep at most N labels per type and time span (object tracking: boxes per frame)",
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any parameter of the model's prediction type, as AutoML params or Vertex model_parameters name it "
        "(e.g. confidenceThreshold=0.3); repeatable, applied after the flags above",
    )
    parser.add_argument(
        "--inference",
        default="auto",
        choices=INFERENCE_BACKENDS,
        help="how clips are scored: Keras, the LiteRT float32 or dynamic-range TFLite conversion (made once per "
        "model, cached in its litert/ folder), or auto (default): the faster LiteRT one agreeing with Keras on "
        "the dataset's TEST clips, else Keras",
    )
    parser.add_argument("--shard", default="0/1", metavar="I/N", help="process rows with index %% N == I")
    parser.add_argument(
        "--merge", action="store_true", help="write the final output from finished shard runs (same arguments)"
    )
    add_registry_flags(parser)
    add_json_flag(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from automl_video.prediction.engine import batch_predict, merge_shards, parse_shard, prediction_params

    # The AutoML BatchPredictRequest.params the flags given stand for, parsed by the model's task.
    flags = {
        "score_threshold": args.score_threshold,
        "segment_classification": args.segment,
        "shot_classification": args.shot,
        "1s_interval_classification": args.one_sec,
        "max_predictions": args.max_predictions,
    }
    mapping = {key: value for key, value in flags.items() if value is not None}
    for pair in args.param:
        key, separator, value = pair.partition("=")
        if not separator or not key.strip():
            raise ValueError(f"--param {pair!r} must be KEY=VALUE")
        mapping[key.strip()] = value.strip()
    # The model's task brings TensorFlow: 10 to 20 s on 2 cores before anything else can be said.
    log.info("predict: starting TensorFlow and the task of %s", args.model)
    started = time.monotonic()
    params = prediction_params(args.model, mapping)
    log.info("predict: ready in %.1fs", time.monotonic() - started)
    shard = parse_shard(args.shard)
    # One job per complete output: a whole run, or the merge of shard runs (a shard alone is not one).
    with recorder(args if args.merge or shard[1] == 1 else None) as recording:
        with recorded_job(recording, lambda r: _start_job(r, args, mapping)) as job:
            if args.merge:
                result = merge_shards(args.model, args.input, args.output_prefix, params)
            else:
                result = batch_predict(
                    args.model, args.input, args.output_prefix, params, shard=shard, inference=args.inference
                )
            doc = result.to_json()
            if job is not None:
                recording.finish_batch_prediction(job.name, records.PredictionOutcome.of(result))
                doc["registered"] = {"batch_prediction_job": job.name}
    emit(doc, args.json, human=_summary)
    return 1 if result.failed_rows and not result.succeeded_rows else 0


def _start_job(recording: records.Recorder, args, model_parameters: dict):
    return recording.start_batch_prediction(
        display_name=f"automl-video predict {args.output_prefix}"[:128],
        model=recording.served_model(args.model),
        inputs=args.input,
        output_prefix=args.output_prefix,
        model_parameters=model_parameters,
        run_info={"backend": "cli"},
    )


def _summary(doc: dict) -> str:
    lines = [
        f"rows: {doc['succeeded_rows']} OK, {doc['failed_rows']} failed "
        f"({doc['predicted_rows']} predicted now, {doc['resumed_rows']} done earlier)",
        f"video: {doc['video_seconds']:.1f}s predicted in {doc['wall_seconds']:.1f}s (TensorFlow's start not included)",
    ]
    if doc["complete"]:
        lines.append(f"output: {doc['output_dir']}")
    else:
        shard_index, shard_count = doc["shard"]
        lines.append(
            f"shard {shard_index}/{shard_count} done; run the other shards, then the same command with --merge"
        )
    lines += [f"failed: {f['message']}" for f in doc["failures"]]
    lines += [f"registered as {name}" for name in doc.get("registered", {}).values()]
    return "\n".join(lines)

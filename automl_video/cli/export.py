"""``automl-video export``: a MOBILE_* model as a TF SavedModel or a (quantized) TFLite file."""

import argparse
import dataclasses
from typing import Any

from automl_video.cli import add_json_flag, emit
from automl_video.modeling.metadata import EXPORT_FORMATS, QUANTIZATIONS


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export a MOBILE_* model as tf-saved-model or tflite (CLOUD models cannot be exported)",
        description="Write the model with a serving_default signature (uint8 frames [batch,T,H,W,3] -> scores), "
        "dict.txt (labels in output order) and input_spec.json under --output.",
    )
    parser.add_argument("--model", required=True, help="trained model folder URI")
    parser.add_argument("--format", required=True, choices=EXPORT_FORMATS, help="TF SavedModel folder or TFLite file")
    parser.add_argument(
        "--quantize",
        default="none",
        choices=QUANTIZATIONS,
        help="tflite only: none (float32), dynamic (int8 weights) or int8 (full integer, calibrated on TRAIN clips)",
    )
    parser.add_argument("--output", required=True, help="folder URI receiving the export (replaced as a whole)")
    parser.add_argument(
        "--representative-dataset",
        default=None,
        help="dataset URI whose TRAIN clips calibrate int8 (default: the dataset the model was trained on)",
    )
    add_json_flag(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from automl_video.modeling.export import export_model  # TensorFlow loads only when the command runs

    result = export_model(
        args.model, args.format, args.output, quantize=args.quantize, dataset_uri=args.representative_dataset
    )
    emit(dataclasses.asdict(result), args.json, human=format_result)


def format_result(doc: dict[str, Any]) -> str:
    return (
        f"Exported {doc['format']} (quantize={doc['quantize']}, {doc['model_size_bytes']:,} bytes, "
        f"{len(doc['labels'])} labels) to {doc['model_uri']}\nlabels: {doc['labels_uri']}"
    )

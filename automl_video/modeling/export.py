"""Export a MOBILE_* model as a TensorFlow SavedModel or a TFLite file, as AutoML Video does.

Both take raw uint8 clips ``[batch, T, H, W, 3]`` (input ``frames``; normalisation is inside the
network) and return the network's float32 output ``scores`` through the ``serving_default`` signature
(classification: per-label sigmoid scores ``[batch, L]``; object tracking: per-cell heatmaps and boxes,
laid out in its task's docs). Which formats and quantizations a model type allows is its task's
(:meth:`automl_video.tasks.base.Task.export_options`). Beside the model the export folder holds
``dict.txt`` (one label per line, in output order) and ``input_spec.json`` (clip shape, sampling,
labels, quantization, and the task's ``postprocessing`` of the output where it has one: the steps that
turn it into its answer).

TFLite flavours: ``none`` (float32), ``dynamic`` (int8 weights, float activations) and ``int8`` (int8
weights and activations calibrated on clips of the dataset's TRAIN split; only the uint8→float input
cast and the final float32 scores are not int8, so every consumer reads scores the same way). Labels
and input spec are also embedded in the flatbuffer as ``Model.metadata`` entries ``labels`` and
``input_spec`` (read them with :func:`read_tflite_metadata`). The TFLite Support ``TFLITE_METADATA``
schema is not written: its writer (tflite-support) is not a dependency.

The export is built in a local folder and published with :func:`automl_video.storage.publish_dir`, so
the output URI (local or ``gs://``) never holds a half-written export.
"""

import json
import logging
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf
from ai_edge_litert import schema_py_generated as tflite_schema
from ai_edge_litert.tools import flatbuffer_utils

from automl_video import storage
from automl_video.data import dataset as dataset_lib
from automl_video.data.dataset import Split
from automl_video.errors import AutoMLVideoError
from automl_video.modeling import loading
from automl_video.modeling.metadata import EXPORT_FORMATS, QUANTIZATIONS, InputSpec, load_metadata
from automl_video.progress import Progress
from automl_video.tasks import get_task
from automl_video.video import read_clip

log = logging.getLogger(__name__)

INPUT_NAME = "frames"
OUTPUT_NAME = loading.OUTPUT_LAYER
SIGNATURE = "serving_default"
LABELS_FILE = "dict.txt"
INPUT_SPEC_FILE = "input_spec.json"
TFLITE_FILE = "model.tflite"
SAVED_MODEL_FILE = "saved_model.pb"
LABELS_METADATA = "labels"
INPUT_SPEC_METADATA = "input_spec"
# Calibration clips for int8: enough to cover every class of a typical dataset, cheap to decode.
REPRESENTATIVE_CLIPS = 64
REPRESENTATIVE_SPLITS = (Split.TRAIN, Split.VALIDATION)


class ExportError(AutoMLVideoError):
    """The model cannot be exported as asked; the message says why and what to do."""


@dataclass
class ExportResult:
    """Where the export went; ``model_uri`` is the ``.tflite`` file or the SavedModel folder."""

    output_uri: str
    format: str
    quantize: str
    model_uri: str
    labels_uri: str
    input_spec_uri: str
    model_size_bytes: int
    labels: list[str]
    representative_clips: int = 0


def export_model(
    model_uri: str, fmt: str, output_uri: str, quantize: str = "none", dataset_uri: str | None = None
) -> ExportResult:
    """Export a trained MOBILE_* model.

    Args:
        model_uri: trained model folder.
        fmt: ``tf-saved-model`` or ``tflite``.
        output_uri: folder receiving the export (replaced as a whole).
        quantize: ``none``, ``dynamic`` or ``int8`` (TFLite only).
        dataset_uri: dataset whose TRAIN clips calibrate ``int8``; defaults to the dataset the model
            was trained on (``model.json``).

    Returns:
        The exported files and their size.
    """
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"export format {fmt!r} is not one of {', '.join(EXPORT_FORMATS)}")
    if quantize not in QUANTIZATIONS:
        raise ValueError(f"quantize {quantize!r} is not one of {', '.join(QUANTIZATIONS)}")
    if fmt == "tf-saved-model" and quantize != "none":
        raise ValueError(f"quantize {quantize!r} applies to tflite only; a tf-saved-model is float32")
    metadata = load_metadata(model_uri)
    if not metadata.type.exportable:
        raise ExportError(
            f"{model_uri}: model type {metadata.model_type} cannot be exported (as in AutoML, only MOBILE_* "
            "models can); train with --model-type MOBILE_VERSATILE_1 to get an exportable model"
        )
    allowed = get_task(metadata.prediction_type).export_options(metadata.type)
    if quantize not in allowed.get(fmt, ()):
        offered = "; ".join(f"{f} (quantize {', '.join(q)})" for f, q in allowed.items())
        raise ExportError(
            f"{model_uri}: a {metadata.model_type} {metadata.prediction_type} model does not export as {fmt} with "
            f"quantize {quantize}; it exports as {offered}"
        )
    trained = loading.load_model(model_uri)
    spec = trained.metadata.input_spec
    # Read calibration clips first: a dataset problem fails before minutes of conversion.
    clips = representative_clips(dataset_uri or metadata.dataset_uri, spec) if quantize == "int8" else []
    labels = trained.metadata.label_names
    input_spec_doc = _input_spec_doc(trained, fmt, quantize)
    with tempfile.TemporaryDirectory(prefix="automl-video-export-") as workdir:
        saved_model_dir = os.path.join(workdir, "saved_model")
        save_serving_model(trained.network, spec, saved_model_dir)
        if fmt == "tf-saved-model":
            build_dir, model_file = saved_model_dir, ""
        else:
            build_dir = os.path.join(workdir, "tflite")
            os.makedirs(build_dir)
            tflite = convert_to_tflite(saved_model_dir, quantize, clips)
            tflite = embed_tflite_metadata(tflite, labels, input_spec_doc)
            with open(os.path.join(build_dir, TFLITE_FILE), "wb") as f:
                f.write(tflite)
            model_file = TFLITE_FILE
        with open(os.path.join(build_dir, LABELS_FILE), "w", encoding="utf-8") as f:
            f.write("".join(label + "\n" for label in labels))
        with open(os.path.join(build_dir, INPUT_SPEC_FILE), "w", encoding="utf-8") as f:
            json.dump(input_spec_doc, f, indent=2)
        size = _model_size(build_dir, model_file)
        storage.publish_dir(build_dir, output_uri)
    log.info("exported %s (%s, quantize=%s, %d bytes) -> %s", model_uri, fmt, quantize, size, output_uri)
    return ExportResult(
        output_uri=output_uri,
        format=fmt,
        quantize=quantize,
        model_uri=storage.join(output_uri, model_file) if model_file else output_uri,
        labels_uri=storage.join(output_uri, LABELS_FILE),
        input_spec_uri=storage.join(output_uri, INPUT_SPEC_FILE),
        model_size_bytes=size,
        labels=labels,
        representative_clips=len(clips),
    )


def save_serving_model(network: keras.Model, spec: InputSpec, directory: str) -> None:
    """Write a SavedModel whose ``serving_default`` maps uint8 ``frames`` to float ``scores``.

    Args:
        network: the trained Keras network.
        spec: its input spec (fixes T, H, W; the batch stays dynamic).
        directory: local folder to create.
    """
    archive = keras.export.ExportArchive()
    archive.track(network)
    archive.add_endpoint(
        name=SIGNATURE,
        fn=lambda frames: {OUTPUT_NAME: network(frames, training=False)},
        input_signature=[tf.TensorSpec([None, *spec.shape], tf.uint8, name=INPUT_NAME)],
    )
    archive.write_out(directory, verbose=False)


def convert_to_tflite(saved_model_dir: str, quantize: str, representative: list[np.ndarray]) -> bytes:
    """Convert the serving SavedModel to a TFLite flatbuffer.

    Args:
        saved_model_dir: folder written by :func:`save_serving_model`.
        quantize: ``none``, ``dynamic`` or ``int8``.
        representative: uint8 clips ``[T, H, W, 3]`` calibrating ``int8`` activations.

    Returns:
        The ``.tflite`` bytes.
    """
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir, signature_keys=[SIGNATURE])
    if quantize in ("dynamic", "int8"):
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "int8":

        def calibration_inputs() -> Iterator[dict[str, np.ndarray]]:
            for clip in representative:
                yield {INPUT_NAME: clip[np.newaxis]}

        converter.representative_dataset = calibration_inputs
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    return bytes(converter.convert())


def representative_clips(dataset_uri: str, spec: InputSpec, limit: int = REPRESENTATIVE_CLIPS) -> list[np.ndarray]:
    """Clips of up to ``limit`` TRAIN (else VALIDATION) training examples, spread evenly over the split.

    Args:
        dataset_uri: the dataset (``""`` when unknown).
        spec: the model's input spec.
        limit: most clips to read.

    Returns:
        uint8 clips ``[T, H, W, 3]`` read with the model's deterministic centre sampling.
    """
    if not dataset_uri:
        raise ExportError(
            "int8 quantization needs representative clips but the model records no dataset; "
            "pass --representative-dataset URI (a dataset with a TRAIN split)"
        )
    clips = split_clips(dataset_uri, spec, REPRESENTATIVE_SPLITS, limit)
    if not clips:
        raise ExportError(
            f"{dataset_uri}: int8 quantization needs representative clips but the dataset has no TRAIN or "
            "VALIDATION segments; run 'automl-video dataset split' or pass --representative-dataset URI"
        )
    return clips


def split_clips(dataset_uri: str, spec: InputSpec, splits: tuple[Split, ...], limit: int) -> list[np.ndarray]:
    """Centre clips of up to ``limit`` examples of the given splits (of the dataset's task's training
    recipe), spread evenly over them; empty when the splits have none."""
    dataset = dataset_lib.load(dataset_uri)
    recipe = get_task(dataset.prediction_type).training()
    examples = [
        example for split in splits for example in recipe.examples(dataset, split, dataset.label_names(), seed=0)
    ]
    if not examples:
        return []
    chosen = sorted({round(i) for i in np.linspace(0, len(examples) - 1, min(limit, len(examples)))})
    progress = Progress(f"{'/'.join(splits)} clips", total=len(chosen), unit="clips")
    clips = []
    for index in chosen:
        example = examples[index]
        clips.append(read_clip(example.video_uri, example.start, example.end, spec))
        progress.update()
    progress.finish()
    return clips


def embed_tflite_metadata(tflite: bytes, labels: list[str], input_spec: dict) -> bytes:
    """Add ``labels`` (one per line) and ``input_spec`` (JSON) entries to the model's metadata."""
    model = flatbuffer_utils.read_model_from_bytearray(bytearray(tflite))
    entries = {
        LABELS_METADATA: "".join(label + "\n" for label in labels).encode("utf-8"),
        INPUT_SPEC_METADATA: json.dumps(input_spec).encode("utf-8"),
    }
    model.metadata = [m for m in (model.metadata or []) if m.name.decode() not in entries]
    for name, data in entries.items():
        buffer = tflite_schema.BufferT()
        buffer.data = np.frombuffer(data, dtype=np.uint8)
        model.buffers.append(buffer)
        entry = tflite_schema.MetadataT()
        entry.name = name.encode("utf-8")
        entry.buffer = len(model.buffers) - 1
        model.metadata.append(entry)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def read_tflite_metadata(tflite: bytes) -> dict[str, bytes]:
    """Every ``Model.metadata`` entry of a TFLite flatbuffer, by name."""
    model = flatbuffer_utils.read_model_from_bytearray(bytearray(tflite))
    return {m.name.decode("utf-8"): bytes(model.buffers[m.buffer].data) for m in (model.metadata or [])}


def _input_spec_doc(trained: "loading.TrainedModel", fmt: str, quantize: str) -> dict:
    spec = trained.metadata.input_spec
    doc = {
        "format": fmt,
        "quantize": quantize,
        "model_type": trained.metadata.model_type,
        "signature": SIGNATURE,
        "inputs": {INPUT_NAME: {"dtype": "uint8", "shape": [-1, *spec.shape]}},
        "outputs": {OUTPUT_NAME: {"dtype": "float32", "shape": [-1, *trained.network.output.shape[1:]]}},
        "sampling": spec.sampling,
        "num_frames": spec.num_frames,
        "height": spec.height,
        "width": spec.width,
        "clips_per_segment": spec.clips_per_segment,
        "labels": trained.metadata.label_names,
    }
    postprocessing = get_task(trained.metadata.prediction_type).networks().export_postprocessing()
    if postprocessing is not None:
        doc["postprocessing"] = postprocessing
    return doc


def _model_size(build_dir: str, model_file: str) -> int:
    """Bytes of the model itself: the ``.tflite`` file, or the SavedModel folder without our side files."""
    if model_file:
        return os.path.getsize(os.path.join(build_dir, model_file))
    return sum(
        os.path.getsize(os.path.join(root, name))
        for root, _, files in os.walk(build_dir)
        for name in files
        if not (root == build_dir and name in (LABELS_FILE, INPUT_SPEC_FILE))
    )

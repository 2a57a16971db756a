"""MOBILE_VERSATILE_1 action models export as a SavedModel and a TFLite file: a clip in, per-label
scores out, and ``input_spec.json`` documents the post-processing that gives batch prediction's moments."""

import json

import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

from automl_video import storage
from automl_video.data import dataset as dataset_lib
from automl_video.data import importer, splits
from automl_video.modeling import export
from automl_video.modeling.loading import load_model
from automl_video.prediction.engine import batch_predict
from automl_video.tasks.action_recognition.prediction import PredictionParams
from automl_video.tasks.action_recognition.timeline import clip_spans, pick_moments
from automl_video.times import parse_duration
from automl_video.video import VideoReader
from tests.tasks.action_recognition.support import ACTION_SPEC, LABELS


@pytest.fixture(scope="module")
def clips_and_scores(action_model, action_synth):
    video = action_synth.videos[4]
    with VideoReader(video) as reader:
        spans = clip_spans(0.0, reader.info.duration)
        clips = np.stack([reader.read_clip(start, end, ACTION_SPEC) for start, end in spans])
    return video, spans, clips, load_model(action_model).predict_clips(clips)


def tflite_scores(path: str, clips: np.ndarray) -> np.ndarray:
    interpreter = Interpreter(model_path=path)
    interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], list(clips.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], clips)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def test_saved_model_scores_and_the_documented_post_processing_give_the_moments(
    action_model, clips_and_scores, tmp_path
):
    video, spans, clips, expected = clips_and_scores
    result = export.export_model(action_model, "tf-saved-model", str(tmp_path / "saved"))
    serving = tf.saved_model.load(result.model_uri).signatures["serving_default"]
    scores = serving(frames=tf.constant(clips))["scores"].numpy()
    assert scores.shape == (len(clips), len(LABELS)) and np.abs(scores - expected).max() <= 1e-5
    assert storage.read_text(result.labels_uri).splitlines() == LABELS
    doc = storage.read_json(result.input_spec_uri)
    assert doc["outputs"] == {"scores": {"dtype": "float32", "shape": [-1, len(LABELS)]}}
    steps = doc["postprocessing"]
    assert (steps["clip_seconds"], steps["stride_seconds"], steps["nms_seconds"]) == (1.0, 0.25, 1.0)
    assert steps["steps"] and steps["kind"] == "action_moments"

    # The documented steps on the exported scores are what batch prediction answers.
    centres = np.array([(start + end) / 2 for start, end in spans])
    moments = pick_moments(centres, scores)
    inputs = tmp_path / "in.jsonl"
    inputs.write_text(json.dumps({"content": video}) + "\n")
    output = batch_predict(action_model, [str(inputs)], str(tmp_path / "out"), PredictionParams(max_predictions=None))
    [line] = storage.read_jsonl(storage.join(output.output_dir, "predictions_00001.jsonl"))
    answered = sorted((parse_duration(p["timeSegmentStart"]), p["displayName"]) for p in line["prediction"])
    assert answered == [(pytest.approx(m.time, abs=1e-5), LABELS[m.label]) for m in moments]


def test_tflite_float_and_int8_take_a_clip_and_return_label_scores(
    action_model, clips_and_scores, action_synth, tmp_path
):
    _, _, clips, expected = clips_and_scores
    result = export.export_model(action_model, "tflite", str(tmp_path / "float"))
    assert np.abs(tflite_scores(result.model_uri, clips) - expected).max() <= 1e-4
    with open(result.model_uri, "rb") as f:
        embedded = export.read_tflite_metadata(f.read())
    assert json.loads(embedded["input_spec"])["postprocessing"]["kind"] == "action_moments"

    dataset_uri = str(tmp_path / "dataset")  # int8 calibrates on the clips of the dataset's TRAIN split
    importer.import_data([action_synth.import_jsonl], dataset_uri, prediction_type="action_recognition")
    splits.split_dataset(dataset_uri)
    quantized = export.export_model(action_model, "tflite", str(tmp_path / "int8"), "int8", dataset_uri)
    assert quantized.representative_clips == min(export.REPRESENTATIVE_CLIPS, _training_clip_count(dataset_uri))
    scores = tflite_scores(quantized.model_uri, clips)
    assert scores.shape == expected.shape and np.abs(scores - expected).max() <= 0.05


def _training_clip_count(dataset_uri: str) -> int:
    from automl_video.tasks import get_task

    dataset = dataset_lib.load(dataset_uri)
    recipe = get_task(dataset.prediction_type).training()
    return sum(len(recipe.examples(dataset, split, dataset.label_names(), 0)) for split in export.REPRESENTATIVE_SPLITS)

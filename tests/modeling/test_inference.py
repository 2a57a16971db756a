"""Scoring clips through LiteRT: the same scores as Keras, auto's choice, its fallbacks and its cache.

Models are real networks (the tiny random-weight one batch prediction tests use, and the briefly trained
colour model of ``test_export``, whose TEST top-1 is a real decision); clips come from generated videos.
"""

import dataclasses
import logging
import os
import shutil
import threading

import numpy as np
import pytest

from automl_video import storage, synth
from automl_video.modeling import inference, loading
from automl_video.modeling.inference import LiteRTBackend, use_inference
from automl_video.modeling.metadata import load_metadata, save_metadata
from automl_video.video import VideoReader
from tests.modeling.test_export import trained  # noqa: F401  (fixture used by name)
from tests.prediction_support import SPEC, publish_tiny_model

BATCH = 16
THREADS = 2


def tiny_model(tmp_path) -> str:
    """A fresh published copy of the tiny model in ``tmp_path/model`` (its own LiteRT cache)."""
    (tmp_path / "model").mkdir()
    return publish_tiny_model(tmp_path / "model", SPEC)


@pytest.fixture(scope="module")
def video_clips(tmp_path_factory) -> np.ndarray:
    """21 clips (a full batch and a partial one) of a generated video with camera cuts."""
    path = str(tmp_path_factory.mktemp("videos") / "cuts.mp4")
    synth.make_cut_video(path, [1.5, 3.0], 4.5, fps=15, seed=3)
    with VideoReader(path) as reader:
        return np.stack([reader.read_clip(0.18 * i, 0.18 * i + 0.8, SPEC) for i in range(21)])


def test_litert_float_scores_equal_keras_scores_in_and_across_threads(tmp_path, video_clips):
    model = loading.load_model(tiny_model(tmp_path))
    expected = model.predict_clips(video_clips)
    litert = use_inference(model, str(tmp_path / "model"), "litert-float", BATCH, THREADS)
    assert isinstance(litert.backend, LiteRTBackend) and litert.backend.name == "litert-float"
    scores = litert.predict_clips(video_clips)  # 16 + 5 (padded) clips
    assert scores.shape == expected.shape and scores.dtype == np.float32
    assert np.abs(scores - expected).max() <= inference.FLOAT_TOLERANCE
    assert np.abs(litert.predict_clips(video_clips[:3]) - expected[:3]).max() <= inference.FLOAT_TOLERANCE
    # Several scoring threads share the interpreter: each gets its own clips' scores.
    results: dict[int, np.ndarray] = {}
    threads = [
        threading.Thread(target=lambda i=i: results.__setitem__(i, litert.predict_clips(video_clips[i::4])))
        for i in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for i in range(4):
        assert np.abs(results[i] - expected[i::4]).max() <= inference.FLOAT_TOLERANCE
    empty = litert.predict_clips(video_clips[:0])  # a row whose clips all failed scores nothing, as Keras
    assert empty.shape == (0, *expected.shape[1:]) and empty.dtype == np.float32


def test_a_model_loaded_from_any_url_has_the_digest_of_its_weights_file(tmp_path):
    """The conversions' cache key comes from the bytes loaded: the same for a local and a remote copy."""
    import hashlib

    model_uri = tiny_model(tmp_path)
    remote_uri = "memory://inference-digest/model"
    for name in os.listdir(model_uri):
        storage.write_bytes(f"{remote_uri}/{name}", (tmp_path / "model" / name).read_bytes())
    expected = hashlib.sha256((tmp_path / "model" / loading.WEIGHTS_FILE).read_bytes()).hexdigest()
    local, remote = loading.load_model(model_uri), loading.load_model(remote_uri)
    assert local.weights_digest == remote.weights_digest == expected
    assert inference.cache_key(local, model_uri) == inference.cache_key(remote, remote_uri)


def test_auto_without_a_dataset_takes_float_litert_checked_on_random_clips_then_reuses_the_cache(tmp_path, caplog):
    model_uri = tiny_model(tmp_path)
    model = loading.load_model(model_uri)
    with caplog.at_level(logging.INFO, logger=inference.__name__):
        chosen = use_inference(model, model_uri, "auto", BATCH, THREADS)
    assert chosen.backend.name == "litert-float"
    assert "converting" in caplog.text and "random clips (no dataset at hand)" in caplog.text
    cached = sorted(os.listdir(tmp_path / "model" / inference.CACHE_FOLDER))
    assert len(cached) == 2 and cached[0].endswith("-auto.json") and cached[1].endswith("-none.tflite")
    choice = inference.InferenceChoice.from_json(storage.read_json(str(tmp_path / "model" / "litert" / cached[0])))
    assert choice.backend == "litert-float" and choice.clips == inference.RANDOM_CHECK_CLIPS
    assert choice.max_abs_diff["litert-float"] <= inference.FLOAT_TOLERANCE

    # A second run reads the decision and the model: nothing is converted or checked again.
    stamps = {name: os.stat(tmp_path / "model" / "litert" / name).st_mtime_ns for name in cached}
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=inference.__name__):
        again = use_inference(loading.load_model(model_uri), model_uri, "auto", BATCH, THREADS)
    assert again.backend.name == "litert-float" and "converting" not in caplog.text
    assert {name: os.stat(tmp_path / "model" / "litert" / name).st_mtime_ns for name in cached} == stamps


def test_new_weights_get_a_new_conversion(tmp_path, video_clips):
    model_uri = tiny_model(tmp_path)
    first = use_inference(loading.load_model(model_uri), model_uri, "litert-float", BATCH, THREADS)
    before = set(os.listdir(tmp_path / "model" / "litert"))
    # "Retrain": other output biases in the same folder (the old conversion is still there).
    network = loading.load_model(model_uri).network
    kernel, _ = network.get_layer(loading.OUTPUT_LAYER).get_weights()
    network.get_layer(loading.OUTPUT_LAYER).set_weights([kernel, np.array([3.0, -3.0, 0.0], np.float32)])
    network.save_weights(str(tmp_path / "model" / loading.WEIGHTS_FILE))
    retrained = loading.load_model(model_uri)
    second = use_inference(retrained, model_uri, "litert-float", BATCH, THREADS)
    assert len(set(os.listdir(tmp_path / "model" / "litert")) - before) == 1
    expected = retrained.predict_clips(video_clips)
    assert np.abs(second.predict_clips(video_clips) - expected).max() <= inference.FLOAT_TOLERANCE
    assert np.abs(first.predict_clips(video_clips) - expected).max() > 0.5  # the stale one would be wrong


def test_auto_falls_back_to_keras_for_a_cloud_model_saying_why(tmp_path, caplog):
    model_uri = tiny_model(tmp_path)
    metadata = dataclasses.replace(load_metadata(model_uri), model_type="CLOUD")
    save_metadata(metadata, model_uri)
    loading.build_network(metadata).save_weights(str(tmp_path / "model" / loading.WEIGHTS_FILE))
    model = loading.load_model(model_uri)
    with caplog.at_level(logging.INFO, logger=inference.__name__):
        assert use_inference(model, model_uri, "auto", BATCH, THREADS).backend is None
    assert "Keras" in caplog.text and "model type CLOUD does not export to TFLite" in caplog.text
    assert not os.path.exists(tmp_path / "model" / "litert")
    with pytest.raises(ValueError, match="--inference litert-float: model type CLOUD does not export.*keras or auto"):
        use_inference(model, model_uri, "litert-float", BATCH, THREADS)


def test_auto_falls_back_to_keras_when_the_conversion_cannot_be_cached(tmp_path, caplog):
    model_uri = tiny_model(tmp_path)
    (tmp_path / "model" / inference.CACHE_FOLDER).write_text("a file where the cache folder goes\n")
    model = loading.load_model(model_uri)
    with caplog.at_level(logging.WARNING, logger=inference.__name__):
        assert use_inference(model, model_uri, "auto", BATCH, THREADS).backend is None
    assert f"Keras for {model_uri}: LiteRT conversion failed" in caplog.text
    assert "--inference keras" in caplog.text
    with pytest.raises(OSError):
        use_inference(model, model_uri, "litert-float", BATCH, THREADS)


def test_a_failed_conversion_is_recorded_so_the_next_run_goes_straight_to_keras(tmp_path, caplog):
    model_uri = tiny_model(tmp_path)
    model = loading.load_model(model_uri)
    key = inference.cache_key(model, model_uri)
    # A folder where the float model's file goes: reading the "cached" model fails for real.
    os.makedirs(tmp_path / "model" / inference.CACHE_FOLDER / f"{key}-none.tflite")
    with caplog.at_level(logging.WARNING, logger=inference.__name__):
        assert use_inference(model, model_uri, "auto", BATCH, THREADS).backend is None
    assert f"Keras for {model_uri} (LiteRT conversion failed (IsADirectoryError" in caplog.text
    choice = storage.read_json(str(tmp_path / "model" / inference.CACHE_FOLDER / f"{key}-auto.json"))
    assert choice["backend"] == "keras" and "delete" in choice["reason"]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=inference.__name__):
        assert use_inference(model, model_uri, "auto", BATCH, THREADS).backend is None
    assert "LiteRT conversion failed (IsADirectoryError" in caplog.text and "converting" not in caplog.text


def test_auto_on_a_trained_model_picks_a_litert_variant_agreeing_on_test_clips(trained, tmp_path):  # noqa: F811
    model_uri, _, loaded, test_clips, test_scores = trained
    copy_uri = str(tmp_path / "model")
    shutil.copytree(model_uri, copy_uri)
    chosen = use_inference(loaded, copy_uri, "auto", BATCH, THREADS)
    (record,) = [name for name in os.listdir(tmp_path / "model" / "litert") if name.endswith("-auto.json")]
    choice = inference.InferenceChoice.from_json(storage.read_json(str(tmp_path / "model" / "litert" / record)))
    print(
        f"\nauto: {choice.backend} ({choice.reason}); agreement {choice.agreement}, clips/s {choice.clips_per_second}"
    )
    assert choice.source.startswith("TEST clips of ") and choice.clips == 12  # one per TEST video
    assert set(choice.agreement) == {"litert-float", "litert-dynamic"}
    assert choice.backend in choice.agreement and choice.agreement[choice.backend] >= inference.MIN_AGREEMENT
    assert chosen.backend.name == choice.backend
    scores = chosen.predict_clips(test_clips)
    assert inference.top1_agreement(scores, test_scores) >= inference.MIN_AGREEMENT

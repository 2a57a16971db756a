"""Keras vs LiteRT float vs LiteRT dynamic-range: clips/s and top-1 agreement, then batch prediction (issue 18).

Trains a MOBILE_VERSATILE_1 and a CLOUD classification model briefly (``--budget-minutes`` each) on a
synthetic motion dataset, so the top-1 label is a real decision, then

1. scores the same clips (sliding windows over the dataset's TEST videos) with Keras ``predict_on_batch``
   and with both TFLite conversions in the LiteRT interpreter (XNNPACK, fixed batch of 16, one thread and
   one per CPU): clips/s, the ratio to Keras, and top-1 agreement and largest score difference with Keras.
   CLOUD does not export (``auto`` keeps Keras for it); it is converted here only to measure;
2. runs batch prediction (segment + 1-second intervals, 360p30 videos of ``predict_throughput.py``) with
   ``--inference keras`` and ``auto`` (and ``auto`` with LiteRT on every core instead of the cores the
   decoding threads leave): video-seconds per wall-second, best of ``--repeats``.

    python benchmarks/inference_backends.py [--budget-minutes 1] [--videos 2] [--seconds 30] [--passes 2]
"""

import argparse
import logging
import os
import tempfile
import time

import numpy as np
from predict_throughput import make_videos, timed_prediction

from automl_video.data import dataset as dataset_lib
from automl_video.data import importer, splits
from automl_video.modeling import export, inference, loading
from automl_video.modeling.metadata import ModelType
from automl_video.prediction import engine
from automl_video.tasks.classification import synth
from automl_video.tasks.classification.prediction import PredictionParams
from automl_video.training.engine import train
from automl_video.video import VideoReader

BATCH = engine.CLIP_BATCH_SIZE


def trained_models(
    workdir: str,
    budget_minutes: float,
    model_types: tuple[ModelType, ...] = (ModelType.MOBILE_VERSATILE_1, ModelType.CLOUD),
) -> dict[str, str]:
    """A synthetic dataset and one model per type trained on it within the budget (reused between runs)."""
    dataset_uri = os.path.join(workdir, "dataset")
    if not os.path.exists(dataset_uri):
        generated = synth.generate(os.path.join(workdir, "synth"), videos_per_class=20, seed=0)
        importer.import_data([generated.import_csv], dataset_uri)
        splits.split_dataset(dataset_uri)
    models = {}
    for model_type in model_types:
        model_uri = os.path.join(workdir, f"model-{model_type.value}")
        train(dataset_uri, model_uri, model_type.value, budget_minutes=budget_minutes, seed=0)
        models[model_type.value] = model_uri
    return models


def test_clips(model: loading.TrainedModel, count: int) -> np.ndarray:
    """``count`` clips at random spans of the dataset's TEST videos (training never saw them)."""
    dataset = dataset_lib.load(model.metadata.dataset_uri)
    videos = [video for video in dataset.videos if video.split == "TEST"]
    rng = np.random.default_rng(0)
    clips = []
    for index in range(count):
        with VideoReader(videos[index % len(videos)].uri) as reader:
            start = rng.uniform(0, max(0.0, reader.info.duration - 1.0))
            clips.append(reader.read_clip(start, start + 1.0, model.input_spec))
    return np.stack(clips)


def rate(predict, clips: np.ndarray) -> tuple[np.ndarray, float]:
    """Scores and clips/s (after one warm-up batch: tracing, XNNPACK's kernel packing)."""
    predict(clips[:BATCH])
    started = time.perf_counter()
    scores = predict(clips)
    return scores, len(clips) / (time.perf_counter() - started)


def clip_scoring(model_uri: str, clip_count: int) -> list[dict]:
    """Keras and each LiteRT variant (one thread, and one per CPU) on the same TEST clips: one dict each
    with clips/s, the ratio to Keras, and top-1 agreement and largest score difference with Keras."""
    model = loading.load_model(model_uri)
    clips = test_clips(model, clip_count)
    expected, keras_rate = rate(lambda c: model.predict_clips(c, batch_size=BATCH), clips)
    rows = [{"backend": "keras", "threads": 0, "clips_per_second": round(keras_rate, 1)}]
    with tempfile.TemporaryDirectory() as saved_model_dir:
        export.save_serving_model(model.network, model.input_spec, saved_model_dir)
        for backend, quantize in inference.QUANTIZE.items():
            tflite = export.convert_to_tflite(saved_model_dir, quantize, [])
            for threads in sorted({1, os.cpu_count() or 1}):
                runner = inference.LiteRTBackend(
                    backend, tflite, model.input_spec.shape, inference.LITERT_BATCH_SIZE, threads
                )
                scores, litert_rate = rate(runner.predict, clips)
                rows.append(
                    {
                        "backend": backend,
                        "threads": threads,
                        "clips_per_second": round(litert_rate, 1),
                        "ratio_to_keras": round(litert_rate / keras_rate, 2),
                        "top1_agreement": round(inference.top1_agreement(scores, expected), 4),
                        "max_abs_diff": float(np.abs(scores - expected).max()),
                    }
                )
    return rows


def print_clip_scoring(model_uri: str, clip_count: int) -> None:
    model = loading.load_model(model_uri)
    keras_row, *litert_rows = clip_scoring(model_uri, clip_count)
    print(
        f"{model.metadata.model_type} {model.input_spec.shape}, {clip_count} TEST clips, Keras batch {BATCH}, LiteRT batch {inference.LITERT_BATCH_SIZE}:"
    )
    print(f"  keras                      {keras_row['clips_per_second']:7.1f} clips/s")
    for row in litert_rows:
        threads = row["threads"]
        print(
            f"  {row['backend']:15s} {threads} thread{'s' if threads > 1 else ' '} {row['clips_per_second']:7.1f} "
            f"clips/s ({row['ratio_to_keras']:4.1f}x keras), top-1 agreement {row['top1_agreement']:.4f}, "
            f"max |diff| {row['max_abs_diff']:.2e}"
        )


def batch_prediction(model_uri: str, workdir: str, videos: int, seconds: float, passes: int, repeats: int) -> None:
    paths = make_videos(workdir, videos, seconds)
    rows = [f"{p},0,inf" for p in paths] * passes
    params = PredictionParams(one_sec_interval_classification=True)
    timed_prediction(model_uri, rows[:1], workdir, "warmup", params)  # converts and decides auto once
    leaves = engine.inference_threads
    runs = [("keras", "keras", leaves), ("auto", "auto", leaves), ("auto, LiteRT on all cores", "auto", None)]
    print(f"batch prediction, segment + 1 s, {len(rows)} rows of {seconds:g} s {os.path.basename(paths[0])}:")
    rates: dict[str, list[float]] = {name: [] for name, _, _ in runs}
    for _ in range(repeats):  # round robin, so the shared machine's drifting load hits every variant alike
        for name, backend, threads in runs:
            # The engine's own rule, or (None) every core for LiteRT beside the decoding threads.
            engine.inference_threads = threads or (lambda decoders: os.cpu_count() or 1)
            predicted, run = timed_prediction(model_uri, rows, workdir, name.split(",")[0], params, backend)
            rates[name].append(predicted / run.wall)
    engine.inference_threads = leaves
    for name, measured in rates.items():
        print(f"  {name:28s} best {max(measured):6.1f} video-s/s (runs: {', '.join(f'{r:.1f}' for r in measured)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget-minutes", type=float, default=1.0, help="training budget per model type")
    parser.add_argument("--clips", type=int, default=128, help="TEST clips scored per backend")
    parser.add_argument("--videos", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--passes", type=int, default=2, help="rows per batch prediction video")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--skip-clips", action="store_true", help="batch prediction only")
    parser.add_argument("--workdir", default=os.path.join("/tmp", "automl-video-inference-bench"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    os.makedirs(args.workdir, exist_ok=True)
    print(f"{os.cpu_count()} CPUs; timings are noisy on a shared machine")
    models = trained_models(args.workdir, args.budget_minutes)
    for model_uri in models.values() if not args.skip_clips else []:
        print_clip_scoring(model_uri, args.clips)
    batch_prediction(
        models[ModelType.MOBILE_VERSATILE_1.value], args.workdir, args.videos, args.seconds, args.passes, args.repeats
    )


if __name__ == "__main__":
    main()

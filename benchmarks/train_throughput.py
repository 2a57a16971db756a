"""Is training bound by the model, not by video? Two ratios, printed as JSON (nothing asserted).

1. Training clips/s through the real input pipeline (decoded-clip cache warm, temporal jitter and shifts
   in tf.data, mixup and brightness in the training step) over clips/s of the same network fed
   in-memory tensors without augmentation.
   Goal >= 0.9.
2. Clip extraction (``VideoReader.read_clip`` over consecutive segments covering a whole 640×360 video)
   in source frames/s over ``ffmpeg -threads 1 -i FILE -f null -`` decoding the same file. Goal >= 1.2.
   Skipped with a message when ffmpeg is not installed (``apt-get install -y ffmpeg``).

    python benchmarks/train_throughput.py [--work DIR] [--steps 60] [--model-type MOBILE_VERSATILE_1]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

from automl_video import dataset as dataset_lib
from automl_video import importer, inputs, splits, synth
from automl_video.model import build_network, default_input_spec
from automl_video.model_spec import InputSpec, ModelType
from automl_video.progress import setup_logging
from automl_video.train import BATCH_SIZES, LEARNING_RATE, MIN_STEPS_PER_EPOCH, MixupTrainer
from automl_video.video import VideoReader

import keras  # noqa: E402  (after automl_video.model, which quiets TensorFlow first)
import tensorflow as tf  # noqa: E402


def _clips_per_second(network, data, clips: int) -> float:
    started = time.monotonic()
    network.fit(data, epochs=1, verbose=0, shuffle=False)
    return clips / (time.monotonic() - started)


def training_throughput(work: str, model_type: ModelType, steps: int, rounds: int) -> dict:
    spec = default_input_spec(model_type)
    batch_size = BATCH_SIZES[model_type]
    generated = synth.generate(os.path.join(work, "synth"), classes=4, videos_per_class=10, seed=0)
    dataset_uri = os.path.join(work, "dataset")
    importer.import_data([generated.import_csv], dataset_uri)
    splits.split_dataset(dataset_uri)
    dataset = dataset_lib.load(dataset_uri)
    examples = inputs.build_examples(dataset, "TRAIN", dataset.label_names())
    cache_dir = os.path.join(work, "cache")
    shutil.rmtree(cache_dir, ignore_errors=True)  # the first decode is measured from scratch
    store = inputs.ClipStore(spec, cache_dir=cache_dir)
    started = time.monotonic()
    store.prepare(examples, training=True)
    decode_seconds = time.monotonic() - started

    network = build_network(model_type, len(dataset.label_names()), spec)
    network.compile(keras.optimizers.Adam(LEARNING_RATE), "binary_crossentropy")
    trainer = MixupTrainer(network)  # what training runs: mixup blended inside the step
    trainer.compile(keras.optimizers.Adam(LEARNING_RATE), "binary_crossentropy")
    clips = steps * batch_size

    def pipeline(epoch: int):
        return inputs.training_dataset(store, examples, batch_size, seed=0, epoch=epoch, min_clips=clips).take(steps)

    order = inputs.epoch_order(len(examples), clips, 0, 0)[:clips]
    frames = np.stack([store.load(examples[i], training=True)[::2] for i in order])
    targets = inputs.targets_matrix(examples, len(dataset.label_names()))[order]
    in_memory = tf.data.Dataset.from_tensor_slices((frames, targets)).batch(batch_size).prefetch(tf.data.AUTOTUNE)

    _clips_per_second(trainer, pipeline(0), clips)  # warm-up: tracing, first reads of the cache
    _clips_per_second(network, in_memory, clips)
    cached, memory = [], []
    for epoch in range(1, rounds + 1):  # interleaved, so load from other processes hits both alike
        cached.append(_clips_per_second(trainer, pipeline(epoch), clips))
        memory.append(_clips_per_second(network, in_memory, clips))
    return {
        "model_type": model_type.value,
        "input_spec": vars(spec),
        "batch_size": batch_size,
        "train_examples": len(examples),
        "first_decode_clips_per_second": round(len(examples) / decode_seconds, 1),
        "cached_pipeline_clips_per_second": round(max(cached), 1),  # best of the rounds: least disturbed
        "in_memory_clips_per_second": round(max(memory), 1),
        "rounds": {"cached": [round(c, 1) for c in cached], "in_memory": [round(m, 1) for m in memory]},
        "ratio": round(max(cached) / max(memory), 3),
        "goal": ">= 0.9",
    }


def extraction_throughput(work: str, spec: InputSpec, rounds: int, segment_seconds: float = 2.0) -> dict:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        print("ffmpeg not found: skipping the extraction ratio (apt-get install -y ffmpeg)", file=sys.stderr)
        return {"skipped": "ffmpeg not installed"}
    path = synth.make_motion_video(
        os.path.join(work, "long.mp4"), "left_to_right", seconds=30, fps=30, width=640, height=360
    )

    def ffmpeg_seconds() -> float:
        started = time.monotonic()
        subprocess.run([ffmpeg, "-v", "error", "-threads", "1", "-i", path, "-f", "null", "-"], check=True)
        return time.monotonic() - started

    def read_clip_seconds() -> float:
        started = time.monotonic()
        with VideoReader(path) as reader:
            for start in starts:
                reader.read_clip(start, min(start + segment_seconds, info.duration), spec)
        return time.monotonic() - started

    with VideoReader(path) as reader:
        info = reader.info
    starts = np.arange(0.0, info.duration - 1e-6, segment_seconds)
    timings = [(ffmpeg_seconds(), read_clip_seconds()) for _ in range(rounds)]  # interleaved
    best_ffmpeg, best_read = min(t[0] for t in timings), min(t[1] for t in timings)
    return {
        "video": f"{info.width}x{info.height} {info.fps:g} fps, {info.duration:g}s, {info.frame_count} frames "
        f"({info.codec})",
        "clips": len(starts),
        "frames_per_clip": spec.num_frames,
        "read_clip_source_frames_per_second": round(info.frame_count / best_read, 1),
        "ffmpeg_threads1_frames_per_second": round(info.frame_count / best_ffmpeg, 1),
        "ratio": round(best_ffmpeg / best_read, 3),
        "goal": ">= 1.2",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", help="folder for videos and caches (default: a temporary one)")
    parser.add_argument("--steps", type=int, default=MIN_STEPS_PER_EPOCH * 2, help="training steps per measurement")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved measurements of each (best one kept)")
    parser.add_argument("--model-type", default=ModelType.MOBILE_VERSATILE_1.value)
    args = parser.parse_args()
    setup_logging()
    work = args.work or tempfile.mkdtemp(prefix="train-throughput-")
    model_type = ModelType(args.model_type)
    report = {
        "cpu_cores": os.cpu_count(),
        "training": training_throughput(work, model_type, args.steps, args.rounds),
        "extraction": extraction_throughput(work, default_input_spec(model_type), args.rounds),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

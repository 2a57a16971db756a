"""What the two motion benchmarks (``motion_ablation.py``, ``action_recognition_quality.py``) share: a
copy of a dataset whose videos are re-encoded with their frames reordered, and one train-then-evaluate
run within a wall-clock budget. Imported by those scripts from their own folder."""

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from automl_video import evaluation, synth, video
from automl_video.data import dataset as dataset_lib
from automl_video.data.dataset import Video
from automl_video.evaluation import EvaluationResult
from automl_video.modeling.metadata import ModelType
from automl_video.training.engine import TrainResult, train

# A video's new frame order: indices into its frames, given the video, its frame times and the rng.
FrameOrder = Callable[[Video, np.ndarray, np.random.Generator], np.ndarray]


def reordered_copy(dataset_uri: str, output: str, seed: int, frame_order: FrameOrder) -> str:
    """The dataset with each video re-encoded under ``output``, its frames in ``frame_order``'s order
    (same annotations and splits); returns the copy's URI."""
    dataset = dataset_lib.load(dataset_uri)
    rng = np.random.default_rng(seed)
    for index, item in enumerate(dataset.videos):
        with video.VideoReader(item.uri) as reader:
            fps = reader.info.fps
            timed = list(reader.frames())
        frames = [frame for _, frame in timed]
        order = frame_order(item, np.array([t for t, _ in timed]), rng)
        path = os.path.join(output, "videos", f"shuffled{index:04d}.mp4")
        synth.make_video(path, [frames[i] for i in order], fps=fps)
        item.uri, item.uris = path, [path]
        item.content_hash = video.content_hash(path)
        item.video_id = item.content_hash[:16]
    copy_uri = os.path.join(output, "dataset")
    dataset_lib.save(dataset, copy_uri)
    return copy_uri


@dataclass
class BudgetRun:
    """One MOBILE_VERSATILE_1 training (fresh clip cache) and its TEST evaluation."""

    result: TrainResult
    evaluated: EvaluationResult
    train_seconds: float


def train_and_evaluate(dataset_uri: str, work: str, name: str, budget_minutes: float, seed: int) -> BudgetRun:
    model_uri = os.path.join(work, f"model-{name}")
    started = time.monotonic()
    result = train(
        dataset_uri,
        model_uri,
        ModelType.MOBILE_VERSATILE_1.value,
        budget_minutes=budget_minutes,
        seed=seed,
        cache_dir=os.path.join(work, f"cache-{name}"),
    )
    seconds = time.monotonic() - started
    evaluated = evaluation.evaluate(model_uri, dataset_uri, os.path.join(work, f"evaluation-{name}"))
    return BudgetRun(result, evaluated, seconds)

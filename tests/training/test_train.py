"""Training on real generated videos: targets, the decode-once cache, a published model, and resume
after a real SIGKILL of a real ``automl-video train`` process."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from automl_video import cli, storage
from automl_video.data import dataset as dataset_lib
from automl_video.data import importer, splits
from automl_video.data.dataset import AnnotationSpec, Dataset, Video
from automl_video.modeling.loading import load_model
from automl_video.modeling.metadata import InputSpec
from automl_video.tasks.classification.annotations import Segment
from automl_video.tasks.classification.examples import training_examples as build_examples
from automl_video.tasks.classification.examples import unlabelled_spans
from automl_video.training.augmentation import augment_clips, blend_clips, mixup_parameters, training_dataset
from automl_video.training.checkpoints import CHECKPOINT_DIR, STATE_FILE, TrainingError
from automl_video.training.clip_cache import ClipStore, evaluation_dataset
from automl_video.training.engine import train
from automl_video.video import VideoReader

TINY = InputSpec(num_frames=4, height=32, width=32)
TINY_FLAGS = ["--num-frames", "4", "--image-size", "32x32", "--batch-size", "8"]


def _video(name: str, split: str, segments: list[tuple[str, float, float]], duration: float = 10.0) -> Video:
    return Video(
        video_id=name,
        uri=f"/videos/{name}.mp4",
        content_hash=name * 4,
        duration=duration,
        ml_use="TRAIN",
        annotations=[Segment(label, start, end) for label, start, end in segments],
        split=split,
    )


def _dataset(videos: list[Video], exhaustive: bool = False) -> Dataset:
    return Dataset(
        annotation_specs=[AnnotationSpec("1", "left"), AnnotationSpec("2", "right"), AnnotationSpec("3", "up")],
        videos=videos,
        exhaustive=exhaustive,
    )


def test_targets_are_positive_for_the_span_labels_and_hard_negative_for_the_others():
    dataset = _dataset(
        [
            _video("a", "TRAIN", [("left", 0, 2), ("up", 0, 2), ("right", 2, 4), ("-", 4, 6)]),
            _video("b", "VALIDATION", [("right", 0, 3)]),
        ]
    )

    examples = build_examples(dataset, "TRAIN", ["left", "right", "up"])

    assert [(e.start, e.end, e.kind, e.targets.tolist()) for e in examples] == [
        (0, 2, "labelled", [1, 0, 1]),  # two labels on one span: one multi-label example
        (2, 4, "labelled", [0, 1, 0]),
        (4, 6, "negative", [0, 0, 0]),  # `-`: negative for every label
    ]
    assert [e.targets.tolist() for e in build_examples(dataset, "VALIDATION", ["left", "right", "up"])] == [[0, 1, 0]]


def test_unlabelled_spans_are_negatives_only_for_exhaustively_labelled_datasets():
    video = _video("a", "TRAIN", [("left", 0, 2), ("right", 5, 7), ("-", 7, 7.5)], duration=10.0)

    sparse = build_examples(_dataset([video]), "TRAIN", ["left", "right", "up"])
    exhaustive = build_examples(_dataset([video], exhaustive=True), "TRAIN", ["left", "right", "up"])

    assert all(e.kind != "unlabelled" for e in sparse)
    unlabelled = [e for e in exhaustive if e.kind == "unlabelled"]
    assert unlabelled and all(not e.targets.any() for e in unlabelled)
    assert len(unlabelled) <= len(sparse)  # at most one unlabelled example per labelled one
    for e in unlabelled:  # inside the gaps [2, 5) and [7.5, 10), never over a labelled span
        assert 2 <= e.start < e.end <= 5 or 7.5 <= e.start < e.end <= 10


def test_unlabelled_spans_fill_the_gaps_between_segments():
    video = _video("a", "TRAIN", [("left", 1, 3), ("right", 2, 4)], duration=9.0)

    assert unlabelled_spans(video, 2.5) == [(4.0, 6.5), (6.5, 9.0)]  # [0, 1) is shorter than half a span
    assert unlabelled_spans(video, 10.0) == [(4.0, 9.0)]  # a gap of at least half a span: one shorter span


@pytest.fixture(scope="module")
def synth_dataset(synth_small, tmp_path_factory):
    """The synth_small videos imported and split (TRAIN / VALIDATION / TEST)."""
    uri = str(tmp_path_factory.mktemp("dataset"))
    importer.import_data([synth_small.import_csv], uri)
    splits.split_dataset(uri)
    return uri


def test_clips_are_decoded_once_and_read_back_from_the_cache(synth_dataset, tmp_path):
    dataset = dataset_lib.load(synth_dataset)
    examples = build_examples(dataset, "TRAIN", dataset.label_names())[:3]
    store = ClipStore(TINY, cache_dir=str(tmp_path / "cache"))

    assert store.prepare(examples, training=True) == []
    cached = sorted(str(p) for p in (tmp_path / "cache").rglob("*.npy"))
    assert len(cached) == 3
    with VideoReader(examples[0].video_uri) as reader:
        fresh = reader.read_clip(examples[0].start, examples[0].end, InputSpec(8, 32, 32))
    np.testing.assert_array_equal(store.load(examples[0], training=True), fresh)  # 2T frames for jitter
    mtimes = [os.path.getmtime(p) for p in cached]
    assert ClipStore(TINY, cache_dir=str(tmp_path / "cache")).prepare(examples, training=True) == []
    assert [os.path.getmtime(p) for p in cached] == mtimes  # nothing decoded or written again


def test_read_frames_reads_the_cached_frames_and_decodes_a_clip_beyond_the_budget(synth_dataset, tmp_path):
    dataset = dataset_lib.load(synth_dataset)
    examples = build_examples(dataset, "TRAIN", dataset.label_names())[:2]
    store = ClipStore(TINY, cache_dir=str(tmp_path / "cache"))
    store.prepare(examples[:1], training=True)
    frame_indices = np.array([0, 3, 4, 5, 7])  # runs of one and of several consecutive frames
    cached, decoded = (np.empty((5, 32, 32, 3), np.uint8) for _ in range(2))

    store.read_frames(examples[0], True, frame_indices, cached)
    ClipStore(TINY, cache_dir=str(tmp_path / "full"), budget_gb=0).read_frames(
        examples[1], True, frame_indices, decoded
    )

    np.testing.assert_array_equal(cached, store.load(examples[0], training=True)[frame_indices])
    with VideoReader(examples[1].video_uri) as reader:
        fresh = reader.read_clip(examples[1].start, examples[1].end, InputSpec(8, 32, 32))
    np.testing.assert_array_equal(decoded, fresh[frame_indices])
    [path] = (tmp_path / "cache").rglob("*.npy")
    path.write_bytes(path.read_bytes()[:1000])  # not a whole clip: an error, not another clip's pixels
    with pytest.raises(ValueError, match="not a cached clip"):
        store.read_frames(examples[0], True, frame_indices, cached)


def test_batches_waiting_for_the_step_do_not_share_memory(synth_dataset, tmp_path):
    """Each batch is filled in an array of its own that TensorFlow takes without a copy: were one buffer
    reused, the batches queued ahead of the step would change under it."""
    dataset = dataset_lib.load(synth_dataset)
    examples = build_examples(dataset, "TRAIN", dataset.label_names())[:5]
    store = ClipStore(TINY, cache_dir=str(tmp_path / "cache"))
    store.prepare(examples, training=True)
    data = training_dataset(store, examples, batch_size=2, seed=0, epoch=0, min_clips=10)

    copied_at_once = [batch[0][0].numpy().copy() for batch in data]
    held = [batch[0][0] for batch in data]  # all kept alive while later batches are assembled

    assert len(held) == 5 and len({c.tobytes() for c in copied_at_once}) == 5
    for tensor, copy in zip(held, copied_at_once, strict=True):
        np.testing.assert_array_equal(tensor.numpy(), copy)


def test_training_and_validation_batches_come_without_tf_data_autotuning(synth_dataset, tmp_path):
    """TensorFlow 2.21 often waits 8 to 9 s for its autotuning thread when an autotuned iterator is
    destroyed, which ``fit`` and ``predict`` do at the end of every epoch (clip_cache.untuned; the wait
    is timed in benchmarks/train_throughput.py): the pipelines run with it off, and still give every
    batch."""
    dataset = dataset_lib.load(synth_dataset)
    examples = build_examples(dataset, "TRAIN", dataset.label_names())[:5]
    store = ClipStore(TINY, cache_dir=str(tmp_path / "cache"))
    store.prepare(examples, training=True)
    store.prepare(examples, training=False)
    training = training_dataset(store, examples, batch_size=2, seed=0, epoch=0, min_clips=10)
    validation = evaluation_dataset(store, examples, batch_size=2)

    assert training.options().autotune.enabled is False
    assert validation.options().autotune.enabled is False
    assert [len(batch[1]) for batch in training] == [2, 2, 2, 2, 2]
    assert [len(clips) for clips in validation] == [2, 2, 1]


def test_one_long_video_decodes_in_parallel_runs_that_give_the_same_clips(tmp_path):
    """Fewer videos than workers: a video's spans are cut into contiguous runs, one reader each."""
    from automl_video import synth
    from automl_video.training.clip_cache import ClipExample, _decoding_runs

    path = synth.make_motion_video(str(tmp_path / "long.mp4"), "left_to_right", seconds=12.0, seed=3)
    examples = [
        ClipExample(path, "a" * 64, float(s), float(s) + 0.9, np.ones(1, np.float32)) for s in range(11, -1, -1)
    ]

    runs = _decoding_runs({path: examples}, workers=2)
    assert [[e.start for e in run] for _, run in runs] == [[0.0, 1, 2, 3, 4, 5], [6.0, 7, 8, 9, 10, 11]]
    assert len(_decoding_runs({path: examples, "other.mp4": examples}, workers=2)) == 2  # one per video
    parallel = ClipStore(TINY, cache_dir=str(tmp_path / "parallel"))
    assert parallel.prepare(examples, training=False, workers=2) == []
    serial = ClipStore(TINY, cache_dir=str(tmp_path / "serial"))
    assert serial.prepare(examples, training=False, workers=1) == []
    for example in examples:
        np.testing.assert_array_equal(parallel.load(example, False), serial.load(example, False))


def test_undecodable_segments_are_reported_not_fatal(synth_dataset, tmp_path):
    dataset = dataset_lib.load(synth_dataset)
    examples = build_examples(dataset, "TRAIN", dataset.label_names())[:2]
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    examples[1].video_uri, examples[1].content_hash = str(broken), "0" * 64

    failures = ClipStore(TINY, cache_dir=str(tmp_path / "cache")).prepare(examples, training=True)

    assert [f.video_uri for f in failures] == [str(broken)]
    assert "broken.mp4" in failures[0].reason


def test_augmentation_keeps_frame_order_shifts_each_clip_and_is_reproducible():
    spec = InputSpec(4, 16, 16)
    frame_index = np.arange(8)[:, None, None]
    rows, cols = np.mgrid[0:16, 0:16]
    clip = np.stack(np.broadcast_arrays(frame_index * 30, rows[None] * 16, cols[None] * 16), axis=-1).astype(np.uint8)
    clips = [clip] * 6  # [2T, H, W, 3] each: frame number, row and column in the channels

    def read_frames(i, frame_indices, out):
        np.take(clips[i], frame_indices, axis=0, out=out)

    first = augment_clips(read_frames, len(clips), spec, np.random.default_rng([0, 1]))
    again = augment_clips(read_frames, len(clips), spec, np.random.default_rng([0, 1]))
    other = augment_clips(read_frames, len(clips), spec, np.random.default_rng([0, 2]))

    assert first.shape == (6, 4, 16, 16, 3) and first.dtype == np.uint8
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    pad = round(16 * 0.1)
    padded = np.pad(clip, [(0, 0), (pad, pad), (pad, pad), (0, 0)], mode="symmetric")
    shifts = set()
    for augmented in first:
        picked = augmented[:, 0, 0, 0] // 30
        assert list(picked // 2) == [0, 1, 2, 3]  # frame k comes from cached frame 2k or 2k+1: order kept
        [(top, left)] = [
            (y, x)
            for y in range(2 * pad + 1)
            for x in range(2 * pad + 1)
            if np.array_equal(augmented[:, :, :, 1:], padded[picked, y : y + 16, x : x + 16, 1:])
        ]  # each clip is one window of its mirror-padded frames
        shifts.add((top, left))
    assert len(shifts) > 1  # clips of a batch are shifted independently


def test_mixup_blends_each_clip_with_another_and_their_targets_alike():
    clips = np.stack([np.full((2, 4, 4, 3), value, np.uint8) for value in (0, 100, 200)])
    targets = np.eye(3, dtype=np.float32)

    weight, brightness, mixed_targets = mixup_parameters(tf.constant(targets), tf.constant([3, 4], tf.int64))
    mixed = blend_clips(tf.constant(clips), weight, brightness).numpy()
    weight, brightness, mixed_targets = weight.numpy(), brightness.numpy(), mixed_targets.numpy()

    np.testing.assert_allclose(mixed_targets.sum(axis=1), 1.0, rtol=1e-6)  # still one label's worth each
    assert mixed_targets[0, 0] == pytest.approx(weight[0]) and mixed_targets[0, 2] == pytest.approx(1 - weight[0])
    assert np.all(np.abs(brightness) <= 0.1 * 255)
    expected = np.clip(np.round(0 * weight[0] + 200 * (1 - weight[0]) + brightness[0]), 0, 255)
    assert np.all(mixed[0] == expected)  # clip 0 blended with clip 2 (the batch reversed), then brightened


def test_epochs_of_small_datasets_repeat_examples_with_fresh_augmentation(synth_dataset, tmp_path):
    dataset = dataset_lib.load(synth_dataset)
    examples = build_examples(dataset, "TRAIN", dataset.label_names())[:5]
    store = ClipStore(TINY, cache_dir=str(tmp_path / "cache"))
    store.prepare(examples, training=True)

    batches = list(training_dataset(store, examples, batch_size=4, seed=0, epoch=0, min_clips=10))
    clips = np.concatenate([b[0][0].numpy() for b in batches])

    assert clips.shape == (10, *TINY.shape)
    assert len({c.tobytes() for c in clips}) == 10


@pytest.fixture(scope="module")
def dataset_with_broken_video(synth_dataset, tmp_path_factory):
    """synth_dataset plus one TRAIN video whose file is not a video at all."""
    root = tmp_path_factory.mktemp("broken")
    broken = root / "broken.mp4"
    broken.write_bytes(b"\x00" * 1000)
    dataset = dataset_lib.load(synth_dataset)
    label = dataset.label_names()[0]
    dataset.videos.append(
        Video(
            video_id="b" * 16,
            uri=str(broken),
            content_hash="b" * 64,
            duration=2.0,
            ml_use="TRAIN",
            annotations=[Segment(label, 0.0, 2.0)],
            split="TRAIN",
        )
    )
    uri = str(root / "dataset")
    dataset_lib.save(dataset, uri)
    return uri


def test_train_publishes_a_loadable_model_to_an_object_store(dataset_with_broken_video, gcs_bucket, tmp_path):
    model_uri = f"{gcs_bucket}/models/tiny"
    dataset_uri = dataset_with_broken_video

    cache = tmp_path / "cache"

    result = train(dataset_uri, model_uri, input_spec=TINY, max_epochs=2, batch_size=8, cache_dir=str(cache))

    assert result.epochs == 2 and result.stop_reason == "max_epochs" and result.resumed_from_epoch == 0
    assert result.failed_clips == 1  # the broken video is left out and reported, the run goes on
    assert [r.epoch for r in result.history] == [1, 2]
    assert 1 <= result.best_epoch <= 2
    assert result.best_validation_score == max(r.validation_score for r in result.history)
    assert storage.is_published(model_uri)
    assert storage.exists(f"{model_uri}/weights.weights.h5")
    assert storage.listdir(f"{model_uri}/logs")  # TensorBoard event files
    loaded = load_model(model_uri)
    assert loaded.metadata.label_names == result.labels
    assert loaded.metadata.input_spec == TINY
    assert loaded.metadata.training.best_epoch == result.best_epoch
    assert [h.epoch for h in loaded.metadata.training.history] == [1, 2]
    assert "broken.mp4" in loaded.metadata.training.failures[0].video_uri
    assert [name.rsplit("/", 1)[-1] for name in storage.listdir(f"{model_uri}/checkpoints")] == [
        f"best-epoch-{result.best_epoch:04d}.weights.h5",
        "state.json",
    ]  # per-epoch checkpoint files are gone once the model is published

    again = train(dataset_uri, model_uri, input_spec=TINY, max_epochs=2, batch_size=8, cache_dir=str(cache))
    assert again.epochs == 2 and again.resumed_from_epoch == 2  # finished already: nothing retrained
    with pytest.raises(TrainingError, match="another training"):
        train(dataset_uri, model_uri, input_spec=TINY, seed=1, max_epochs=2, batch_size=8, cache_dir=str(cache))


def test_tensorboard_logs_have_steps_epochs_and_hparams(synth_dataset, tmp_path):
    """Read back with TensorBoard's own event reader and HParams message."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    model_uri = str(tmp_path / "model")
    result = train(synth_dataset, model_uri, input_spec=TINY, max_epochs=2, batch_size=8, seed=5)
    events = EventAccumulator(f"{model_uri}/logs", size_guidance={"tensors": 0})
    events.Reload()
    tags = set(events.Tags()["tensors"])
    assert {"step/loss", "step/learning_rate", "epoch/val_au_prc", "epoch/val_loss", "epoch/loss"} <= tags
    steps = [e.step for e in events.Tensors("step/loss")]
    assert steps == list(range(1, len(steps) + 1)) and len(steps) >= 2 * 2  # every step of both epochs
    state = json.loads((tmp_path / "model" / CHECKPOINT_DIR / STATE_FILE).read_text())
    assert state["steps"] == len(steps)
    validation = [(e.step, float(tf.make_ndarray(e.tensor_proto))) for e in events.Tensors("epoch/val_au_prc")]
    assert validation == [(r.epoch, pytest.approx(r.validation_score, abs=1e-6)) for r in result.history]
    rates = [float(tf.make_ndarray(e.tensor_proto)) for e in events.Tensors("step/learning_rate")]
    assert all(0 < rate <= 1e-2 for rate in rates) and rates[0] >= rates[-1]  # cosine annealing

    start = plugin_data_pb2.HParamsPluginData.FromString(
        events.SummaryMetadata("_hparams_/session_start_info").plugin_data.content
    )
    hparams = {
        k: v.WhichOneof("kind") and getattr(v, v.WhichOneof("kind"))
        for k, v in start.session_start_info.hparams.items()
    }
    assert hparams["model_type"] == "MOBILE_VERSATILE_1" and hparams["seed"] == 5 and hparams["batch_size"] == 8
    assert hparams["image_size"] == "32x32" and hparams["init_weights"] is False
    assert start.session_start_info.start_time_secs > 0 and start.session_start_info.group_name
    end = plugin_data_pb2.HParamsPluginData.FromString(
        events.SummaryMetadata("_hparams_/session_end_info").plugin_data.content
    )
    assert (
        end.session_end_info.status == 1
        and end.session_end_info.end_time_secs >= start.session_start_info.start_time_secs
    )


def test_cloud_model_scores_a_segment_with_several_clips(synth_dataset, tmp_path):
    spec = InputSpec(num_frames=4, height=32, width=32, clips_per_segment=2)
    model_uri = str(tmp_path / "cloud")

    result = train(
        synth_dataset, model_uri, "CLOUD", input_spec=spec, max_epochs=1, batch_size=8, cache_dir=str(tmp_path / "c")
    )

    loaded = load_model(model_uri)
    assert result.model_type == loaded.metadata.model_type == "CLOUD"
    assert loaded.input_spec.clips_per_segment == 2
    video = dataset_lib.load(synth_dataset).videos_in("TEST")[0]
    with VideoReader(video.uri) as reader:
        clips = loaded.segment_clips(reader, video.annotations[0].start, video.annotations[0].end)
        scores = loaded.score_segment(reader, video.annotations[0].start, video.annotations[0].end)
    assert clips.shape == (2, 4, 32, 32, 3)
    np.testing.assert_allclose(scores, loaded.predict_clips(clips).mean(axis=0), rtol=1e-5)


def test_train_cli_refuses_object_tracking_model_types(synth_dataset, tmp_path, capsys):
    model_type = "MOBILE_CORAL_VERSATILE_1"
    command = ["train", "--dataset", synth_dataset, "--model", str(tmp_path / "m"), "--model-type", model_type]

    code = cli.main(command)

    assert code == 2
    assert "object_tracking" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "m")


def _committed_epochs(model_dir) -> int:
    state = model_dir / CHECKPOINT_DIR / STATE_FILE
    return json.loads(state.read_text())["epochs"] if state.exists() else 0


def test_training_killed_with_sigkill_resumes_from_its_checkpoint(synth_dataset, tmp_path):
    model_dir = tmp_path / "model"
    command = [
        sys.executable,
        "-m",
        "automl_video",
        "train",
        "--dataset",
        synth_dataset,
        "--model",
        str(model_dir),
        "--max-epochs",
        "5",
        "--patience",
        "10",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--json",
        *TINY_FLAGS,
    ]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while _committed_epochs(model_dir) < 1 and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.communicate()
    killed_at = _committed_epochs(model_dir)
    assert first.returncode == -signal.SIGKILL
    assert 1 <= killed_at < 5, "the first run must be killed after a checkpoint and before the end"
    assert not storage.is_published(str(model_dir))

    second = subprocess.run(command, capture_output=True, text=True, timeout=300)

    assert second.returncode == 0, second.stderr[-2000:]
    assert f"resuming from epoch {killed_at}" in second.stderr
    result = json.loads(second.stdout)
    assert result["resumed_from_epoch"] == killed_at
    assert [r["epoch"] for r in result["history"]] == [1, 2, 3, 4, 5]
    assert result["epochs"] == 5 and result["stop_reason"] == "max_epochs"
    assert storage.is_published(str(model_dir))
    assert load_model(str(model_dir)).metadata.training.epochs == 5


def test_one_video_per_label_trains_every_label_and_validates_on_held_out_time(tmp_path):
    """The shape of a user's small real dataset: one long video per label, TRAIN rows 1 s segments of
    it, TEST rows in videos of their own. Every label trains, and VALIDATION is each label's held-out
    stretch (decoded from the same file as its TRAIN clips, a clip away from them)."""
    from automl_video import synth

    motions = ["left_to_right", "right_to_left", "clockwise"]
    train_rows, test_rows = [], []
    for index, motion in enumerate(motions):
        train_video = synth.make_motion_video(str(tmp_path / f"{motion}.mp4"), motion, seconds=8.0, seed=index)
        train_rows += [f"{train_video},{motion},{t},{t + 1}" for t in range(8)]
        test_video = synth.make_motion_video(str(tmp_path / f"{motion}-test.mp4"), motion, seconds=2.0, seed=10 + index)
        test_rows += [f"{test_video},{motion},0,1", f"{test_video},{motion},1,2"]
    (tmp_path / "train.csv").write_text("".join(row + "\n" for row in train_rows))
    (tmp_path / "test.csv").write_text("".join(row + "\n" for row in test_rows))
    (tmp_path / "import.csv").write_text(f"TRAIN,{tmp_path / 'train.csv'}\nTEST,{tmp_path / 'test.csv'}\n")
    dataset_uri = str(tmp_path / "dataset")
    importer.import_data([str(tmp_path / "import.csv")], dataset_uri)

    split = splits.split_dataset(dataset_uri)

    assert [h.label for h in split.held_out_labels] == motions
    assert split.counts["VALIDATION"].videos == 3 and split.counts["TRAIN"].videos == 3
    dataset = dataset_lib.load(dataset_uri)
    validation = build_examples(dataset, "VALIDATION", motions)
    assert {motions[int(np.argmax(e.targets))] for e in validation} == set(motions)
    result = train(
        dataset_uri, str(tmp_path / "model"), input_spec=TINY, max_epochs=1, batch_size=8, cache_dir=str(tmp_path / "c")
    )
    assert result.failed_clips == 0
    assert result.train_examples == len(build_examples(dataset, "TRAIN", motions)) == 3 * 5  # 8 s: 5 + gap + 2
    assert result.validation_examples == len(validation) == 3 * 2

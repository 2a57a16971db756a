"""Split rules on datasets built in memory (splitting reads only the dataset document, never videos).

Real imported videos are split in tests/test_import.py.
"""

import hashlib
import json
import uuid
from collections import Counter

import numpy as np
import pytest

from automl_video import cli
from automl_video.data import dataset as ds
from automl_video.data import splits
from automl_video.data.dataset import Dataset, Video
from automl_video.tasks.action_recognition.annotations import ActionAnnotation
from automl_video.tasks.classification.annotations import Segment
from automl_video.tasks.object_tracking.annotations import Box


def make_videos(count: int, labels: list[str], ml_use: str = "UNASSIGNED", prefix: str = "v") -> list[Video]:
    """``count`` videos whose labels cycle through ``labels`` (one labelled segment each)."""
    videos = []
    for i in range(count):
        content_hash = hashlib.sha256(f"{prefix}-{i}".encode()).hexdigest()
        label = labels[i % len(labels)]
        videos.append(
            Video(
                video_id=content_hash[:16],
                uri=f"memory://videos/{prefix}{i}.mp4",
                content_hash=content_hash,
                duration=2.0,
                ml_use=ml_use,
                annotations=[Segment(label, 0.0, 2.0)],
            )
        )
    return videos


def make_dataset(*video_lists: list[Video]) -> Dataset:
    dataset = Dataset(display_name="in-memory")
    for videos in video_lists:
        add_videos(dataset, videos)
    return dataset


def add_videos(dataset: Dataset, videos: list[Video]) -> None:
    dataset.videos += videos
    for v in videos:
        for label in sorted(v.labels()):
            dataset.ensure_spec(label)


def saved(dataset: Dataset) -> str:
    uri = f"memory://split-tests/{uuid.uuid4().hex}"
    ds.save(dataset, uri)
    return uri


def split_of(dataset: Dataset) -> dict[str, str | None]:
    return {v.video_id: v.split for v in dataset.videos}


LABELS = ["a", "b", "c", "d", "e"]


def test_default_split_follows_automl_ratios_per_label_and_overall():
    unassigned = make_videos(1000, LABELS)
    train = make_videos(100, LABELS, "TRAIN", prefix="train")
    test = make_videos(100, LABELS, "TEST", prefix="test")
    uri = saved(make_dataset(unassigned, train, test))

    result = splits.split_dataset(uri)

    dataset = ds.load(uri)
    assert all(v.split == "TEST" for v in dataset.videos if v.ml_use == "TEST")
    assert all(v.split in ("TRAIN", "VALIDATION") for v in dataset.videos if v.ml_use == "TRAIN")
    from_unassigned = Counter(v.split for v in dataset.videos if v.ml_use == "UNASSIGNED")
    assert from_unassigned["TEST"] == 200  # 20 % of UNASSIGNED
    pool = 800 + 100
    assert result.counts["TRAIN"].videos == 630 == round(0.7 * pool)
    assert result.counts["VALIDATION"].videos == 270
    assert result.counts["TEST"].videos == 300
    assert result.left_out == 0 and result.videos_moved == 1200
    for label in LABELS:  # every label gets its share: 200 UNASSIGNED + 20 TRAIN + 20 TEST videos each
        per_split = Counter(v.split for v in dataset.videos if label in v.labels())
        assert abs(per_split["TEST"] - (20 + 40)) <= 1
        assert abs(per_split["TRAIN"] - 0.7 * (160 + 20)) <= 1
        assert abs(per_split["VALIDATION"] - 0.3 * (160 + 20)) <= 1
    assert dataset.split_config.seed == 0 and dataset.split_config.left_out == []


def test_many_tiny_labels_still_add_up_to_the_overall_ratios():
    # 100 labels of 2 videos each: no label alone can be split 80/20, but rounding is carried over.
    dataset = make_dataset(make_videos(200, [f"label_{i}" for i in range(100)]))
    assignment = splits.plan_split(dataset)
    counts = Counter(assignment.values())
    assert counts["TEST"] == 40
    assert counts["TRAIN"] + counts["VALIDATION"] == 160
    assert abs(counts["VALIDATION"] - 48) <= 1


def test_a_rare_label_on_multi_label_videos_is_stratified_first():
    common = make_videos(90, ["common"])
    rare = make_videos(10, ["common"], prefix="rare")
    for v in rare:
        v.annotations.append(Segment("rare", 0.0, 1.0))
    dataset = make_dataset(common, rare)
    assignment = splits.plan_split(dataset)
    rare_splits = Counter(assignment[v.video_id] for v in rare)
    assert rare_splits["TEST"] == 2  # 20 % of the 10 rare videos, though every one is also "common"
    assert Counter(assignment.values())["TEST"] == 20


def test_split_is_by_video_and_deterministic_for_a_seed():
    dataset = make_dataset(make_videos(300, LABELS))
    first = splits.plan_split(dataset, seed=3)
    assert set(first) == {v.video_id for v in dataset.videos}  # every video in exactly one set
    assert splits.plan_split(dataset, seed=3) == first
    other = splits.plan_split(dataset, seed=4)
    assert other != first
    assert Counter(other.values()) == Counter(first.values())  # same sizes, other videos


def test_videos_keep_their_set_when_videos_are_appended():
    dataset = make_dataset(make_videos(200, LABELS), make_videos(20, LABELS, "TRAIN", prefix="train"))
    uri = saved(dataset)
    splits.split_dataset(uri, seed=11)
    before = split_of(ds.load(uri))

    grown = ds.load(uri)
    add_videos(grown, make_videos(100, LABELS + ["new_label"], prefix="later"))
    ds.save(grown, uri)
    result = splits.split_dataset(uri)  # seed 11 is remembered

    after = split_of(ds.load(uri))
    assert {k: after[k] for k in before} == before
    assert result.seed == 11 and result.videos_moved == 100
    assert all(after[k] is not None for k in after)
    unassigned = [v for v in ds.load(uri).videos if v.ml_use == "UNASSIGNED"]
    assert Counter(v.split for v in unassigned)["TEST"] == 60  # 20 % of all 300, old and new
    assert splits.split_dataset(uri).videos_moved == 0  # splitting again changes nothing


def test_fractions_replace_the_80_20_step_and_leave_the_rest_out_for_good():
    dataset = make_dataset(make_videos(100, LABELS), make_videos(10, LABELS, "TEST", prefix="test"))
    uri = saved(dataset)

    result = splits.split_dataset(uri, training_fraction=0.5, test_fraction=0.2)

    assert result.left_out == 30
    assert result.counts["TEST"].videos == 20 + 10
    assert result.counts["TRAIN"].videos + result.counts["VALIDATION"].videos == 50
    before = split_of(ds.load(uri))
    again = splits.split_dataset(uri)  # the same fractions are remembered; left-out videos stay out
    assert split_of(ds.load(uri)) == before and again.videos_moved == 0
    assert (again.training_fraction, again.test_fraction) == (0.5, 0.2)

    resplit = splits.split_dataset(uri, seed=1, resplit=True)  # back to the 80/20 defaults
    assert resplit.left_out == 0 and resplit.counts["TEST"].videos == 30


def test_changed_settings_keep_placed_videos_and_say_so():
    uri = saved(make_dataset(make_videos(50, LABELS)))
    splits.split_dataset(uri, seed=1)
    before = split_of(ds.load(uri))
    result = splits.split_dataset(uri, seed=2)
    assert split_of(ds.load(uri)) == before
    assert any("differ from the previous split" in w for w in result.warnings)


@pytest.mark.parametrize(
    ("training", "test", "message"),
    [
        (0.9, 0.2, "= 1.1 is more than 1"),
        (0.5, None, "give both"),
        (-0.1, 0.2, "training fraction -0.1 must be between 0 and 1"),
        (0.5, 1.5, "test fraction 1.5 must be between 0 and 1"),
    ],
)
def test_bad_fractions_are_refused(training, test, message):
    uri = saved(make_dataset(make_videos(10, LABELS)))
    before = ds.storage.read_bytes(ds.dataset_file(uri))
    with pytest.raises(ValueError, match=message):
        splits.split_dataset(uri, training_fraction=training, test_fraction=test)
    assert ds.storage.read_bytes(ds.dataset_file(uri)) == before


def test_cli_split_refuses_fractions_over_one_with_one_line(capsys):
    uri = saved(make_dataset(make_videos(10, LABELS)))
    code = cli.main(["dataset", "split", "--dataset", uri, "--training-fraction", "0.8", "--test-fraction", "0.3"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1] == "automl-video: error: training fraction 0.8 + test fraction 0.3 = 1.1 is more than 1"


def test_cli_split_prints_counts_and_warns_about_thin_labels(capsys):
    videos = make_videos(100, ["plenty"]) + make_videos(5, ["scarce"], prefix="scarce")
    uri = saved(make_dataset(videos))
    assert cli.main(["dataset", "split", "--dataset", uri, "--json", "--seed", "5"]) == 0
    out = capsys.readouterr().out
    result = __import__("json").loads(out)
    assert result["seed"] == 5
    assert sum(c["videos"] for c in result["counts"].values()) == 105
    assert any("'scarce' has" in w and "fewer than 10" in w for w in result["warnings"])
    assert not any("'plenty'" in w for w in result["warnings"])


def test_label_without_test_video_is_warned():
    dataset = make_dataset(make_videos(30, ["seen"]), make_videos(3, ["only_train"], "TRAIN", prefix="t"))
    splits.apply_split(dataset, splits.plan_split(dataset), ds.SplitConfig())
    warnings = splits.split_warnings(dataset)
    assert "label 'only_train' has no TEST video; it will not be evaluated" in warnings
    assert not any("'seen' has no TEST" in w for w in warnings)


def test_splitting_an_empty_dataset_is_refused():
    uri = saved(Dataset(display_name="empty"))
    with pytest.raises(ds.DatasetError, match="no videos to split"):
        splits.split_dataset(uri)


# -- labels too thin for a video-level split: held-out stretches (issue 19) ---------------------------


def one_scene_per_label(labels: list[str], seconds: list[int], prediction_type: str = "classification") -> Dataset:
    """The shape of a user's small real dataset: per label one long TRAIN video annotated all along
    (classification: 1 s segments; action recognition: a moment every 2 s; object tracking: a labelled
    frame every 0.5 s) and one TEST video, beside a label of plenty of short TRAIN videos."""
    dataset = Dataset(display_name="scenes", prediction_type=prediction_type)
    annotate = {
        "classification": lambda label, n: [Segment(label, float(t), float(t + 1)) for t in range(n)],
        "action_recognition": lambda label, n: [ActionAnnotation(label, float(t), float(t)) for t in range(1, n, 2)],
        "object_tracking": lambda label, n: [Box(label, t / 2, 0.1, 0.1, 0.5, 0.5) for t in range(2 * n)],
    }[prediction_type]
    plenty = []
    for i in range(30):
        content_hash = hashlib.sha256(f"plenty-{i}".encode()).hexdigest()
        plenty.append(
            Video(content_hash[:16], f"memory://videos/p{i}.mp4", content_hash, 12.0, "TRAIN", annotate("plenty", 12))
        )
    scenes = []
    for label, length in zip(labels, seconds):
        for use in ("TRAIN", "TEST"):
            content_hash = hashlib.sha256(f"{label}-{use}".encode()).hexdigest()
            n = length if use == "TRAIN" else 4
            uri = f"memory://videos/{label}-{use}.mp4"
            scenes.append(Video(content_hash[:16], uri, content_hash, n + 0.5, use, annotate(label, n)))
    add_videos(dataset, plenty + scenes)
    return dataset


SCENES = [f"scene{k}" for k in range(6)]
SCENE_SECONDS = [8, 12, 16, 20, 24, 60]


def examples_of(dataset: Dataset, split: str):
    """The task's TRAIN or VALIDATION examples, as the training engine asks the task's recipe for them."""
    from automl_video.tasks.action_recognition.examples import split_examples
    from automl_video.tasks.classification.examples import training_examples
    from automl_video.tasks.object_tracking.examples import frame_examples

    build = {
        "classification": training_examples,
        "action_recognition": split_examples,
        "object_tracking": frame_examples,
    }[dataset.prediction_type]
    return build(dataset, split, dataset.label_names())


def labels_of(example, label_names: list[str]) -> set[str]:
    targets = example.targets
    if targets.ndim == 2:  # object tracking: one row per box, its label index first
        return {label_names[int(i)] for i in targets[:, 0]}
    return {label_names[i] for i in np.flatnonzero(targets >= 0.5)}


@pytest.mark.parametrize("prediction_type", ["classification", "action_recognition", "object_tracking"])
def test_a_label_whose_only_train_video_would_go_to_validation_trains_and_is_validated_on_its_time(
    prediction_type,
):
    dataset = one_scene_per_label(SCENES, SCENE_SECONDS, prediction_type)
    scene_videos = {v.video_id: v for v in dataset.videos if v.ml_use == "TRAIN" and "plenty" not in v.labels()}
    video_level = splits.plan_split(dataset)
    assert "VALIDATION" in {video_level[video_id] for video_id in scene_videos}  # the starving case
    uri = saved(dataset)

    result = splits.split_dataset(uri)

    split = ds.load(uri)
    assert [h.label for h in result.held_out_labels] == SCENES
    assert all(h.videos == 1 and h.seconds > 0 for h in result.held_out_labels)
    for v in split.videos:
        if v.video_id in scene_videos:
            assert v.split == "TRAIN" and v.validation_stretch.labels == [sorted(v.labels())[0]]
        else:  # plenty of videos: the video-level split, untouched
            assert v.split == video_level[v.video_id] and v.validation_stretch is None
    train, validation = examples_of(split, "TRAIN"), examples_of(split, "VALIDATION")
    names = split.label_names()
    for label in ["plenty", *SCENES]:  # no label starved, none unseen by VALIDATION
        assert any(label in labels_of(e, names) for e in train), label
        assert any(label in labels_of(e, names) for e in validation), label
    for video in scene_videos.values():
        stretch = next(v for v in split.videos if v.video_id == video.video_id).validation_stretch
        trained = [(e.start, e.end) for e in train if e.video_uri == video.uri]
        validated = [(e.start, e.end) for e in validation if e.video_uri == video.uri]
        assert trained and validated
        assert all(stretch.start <= start and end <= stretch.end for start, end in validated)
        # No frame in both sets: every TRAIN clip ends a gap before the stretch or starts a gap after it.
        assert all(
            end <= stretch.start - stretch.gap_seconds or start >= stretch.end + stretch.gap_seconds
            for start, end in trained
        )
        assert stretch.gap_seconds >= 1.0  # a 1 s clip (tracking: frames a second apart)
    assert {v.uri for v in split.videos_in("VALIDATION")} == {e.video_uri for e in validation} - {
        v.uri for v in scene_videos.values()
    }


def test_a_held_out_stretch_is_the_last_30_percent_of_the_labels_time_one_clip_from_train():
    dataset = one_scene_per_label(SCENES, SCENE_SECONDS)
    uri = saved(dataset)
    splits.split_dataset(uri)
    by_label = {sorted(v.labels())[0]: v for v in ds.load(uri).videos if v.validation_stretch}

    stretch = by_label["scene4"].validation_stretch  # 24 segments of 1 s: 0-1, 1-2, ..., 23-24
    assert (stretch.start, stretch.end, stretch.gap_seconds) == (17.0, 24.0, 1.0)  # 70 % of 24 s is 16.8
    train = [e for e in examples_of(ds.load(uri), "TRAIN") if e.video_uri == by_label["scene4"].uri]
    assert [(e.start, e.end) for e in train] == [(float(t), float(t + 1)) for t in range(16)]  # [16, 17): the gap


def test_one_long_segment_is_cut_inside_at_70_percent(tmp_path):
    plenty = make_videos(30, ["plenty"], "TRAIN")
    content_hash = hashlib.sha256(b"long").hexdigest()
    long = Video(content_hash[:16], "memory://videos/long.mp4", content_hash, 60.0, "TRAIN", [Segment("long", 0, 60)])
    uri = saved(make_dataset(plenty, [long]))

    result = splits.split_dataset(uri)

    dataset = ds.load(uri)
    stretch = next(v for v in dataset.videos if v.video_id == long.video_id).validation_stretch
    assert [h.label for h in result.held_out_labels] == ["long"]
    assert (stretch.start, stretch.end, stretch.gap_seconds) == (42.0, 60.0, 2.0)  # median segment 2 s
    validation = [(e.start, e.end) for e in examples_of(dataset, "VALIDATION") if e.video_uri == long.uri]
    train = [(e.start, e.end) for e in examples_of(dataset, "TRAIN") if e.video_uri == long.uri]
    assert validation == [(42.0, 60.0)]
    assert train[0][0] == 0.0 and train[-1][1] == 40.0  # TRAIN up to a clip before the stretch


def test_stretches_are_kept_by_a_later_split_and_the_dataset_file_says_format_3(tmp_path):
    uri = saved(one_scene_per_label(SCENES[:2], SCENE_SECONDS[:2]))
    splits.split_dataset(uri)
    doc = json.loads(ds.storage.read_bytes(ds.dataset_file(uri)))
    assert doc["format_version"] == ds.STRETCH_FORMAT_VERSION == 3  # older readers refuse it by name
    stretched = [v for v in doc["videos"] if "validation_stretch" in v]
    assert len(stretched) == 2 and all("validation_stretch" not in v for v in doc["videos"] if v not in stretched)
    before = ds.load(uri)

    again = splits.split_dataset(uri)

    assert again.videos_moved == 0
    assert [v.validation_stretch for v in ds.load(uri).videos] == [v.validation_stretch for v in before.videos]
    assert json.loads(ds.storage.read_bytes(ds.dataset_file(uri)))["format_version"] == 3
    plain = saved(make_dataset(make_videos(30, LABELS)))
    splits.split_dataset(plain)
    assert json.loads(ds.storage.read_bytes(ds.dataset_file(plain)))["format_version"] == ds.FORMAT_VERSION == 2


def test_split_and_describe_say_which_labels_are_validated_on_held_out_stretches(capsys):
    uri = saved(one_scene_per_label(SCENES[:2], SCENE_SECONDS[:2]))

    assert cli.main(["dataset", "split", "--dataset", uri]) == 0
    printed = capsys.readouterr().out
    assert (
        "label 'scene0': VALIDATION from held-out stretches of 1 TRAIN videos (2 s; 1 s unused on each side)" in printed
    )
    assert (
        "label 'scene1': VALIDATION from held-out stretches of 1 TRAIN videos (4 s; 1 s unused on each side)" in printed
    )
    assert "'plenty'" not in printed

    assert cli.main(["dataset", "describe", "--dataset", uri, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["held_out_labels"] == [
        {"label": "scene0", "videos": 1, "seconds": 2.0, "gap_seconds": 1.0},
        {"label": "scene1", "videos": 1, "seconds": 4.0, "gap_seconds": 1.0},
    ]
    assert cli.main(["dataset", "describe", "--dataset", uri]) == 0
    assert "label 'scene0': VALIDATION from held-out stretches of 1 TRAIN videos" in capsys.readouterr().out


@pytest.mark.parametrize(("use", "where"), [("TEST", "its videos: 1 TEST"), ("VALIDATION", "its videos: 1 VALIDATION")])
def test_a_label_with_no_train_example_is_refused_naming_it_and_the_fix(use, where):
    videos = make_videos(30, ["plenty"], "TRAIN") + make_videos(1, ["lonely"], use, prefix="lonely")
    uri = saved(make_dataset(videos))
    before = ds.storage.read_bytes(ds.dataset_file(uri))

    with pytest.raises(ds.DatasetError) as error:
        splits.split_dataset(uri)

    assert str(error.value) == (
        f"{uri}: label 'lonely' has no TRAIN example ({where}); add videos with it, or mark some of its "
        "videos TEST yourself (ML_USE) and the others TRAIN"
    )
    assert ds.storage.read_bytes(ds.dataset_file(uri)) == before  # nothing written


def test_a_label_too_short_to_hold_out_trains_and_is_warned_about_validation():
    videos = make_videos(30, ["plenty"], "TRAIN") + make_videos(
        1, ["short"], "TRAIN", prefix="short"
    )  # one 2 s segment
    uri = saved(make_dataset(videos))

    result = splits.split_dataset(uri)

    short = next(v for v in ds.load(uri).videos if "short" in v.labels())
    assert short.split == "TRAIN" and short.validation_stretch is None and result.held_out_labels == []
    assert (
        "label 'short' has no VALIDATION example (its TRAIN time is too short to hold a stretch out); early "
        "stopping does not watch it"
    ) in result.warnings


def test_a_dataset_of_test_videos_only_splits_for_evaluation():
    uri = saved(make_dataset(make_videos(3, ["a", "b"], "TEST")))
    result = splits.split_dataset(uri)
    assert result.counts["TEST"].videos == 3 and result.counts["TRAIN"].videos == 0

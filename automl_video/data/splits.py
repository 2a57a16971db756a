"""Split a dataset into TRAIN / VALIDATION / TEST by video, the AutoML way, and keep it stable.

TEST videos stay in TEST. UNASSIGNED videos go 80/20 to the training pool and TEST (or by the given
training/test fractions, leaving any remainder out of every set). The training pool (TRAIN videos and
the UNASSIGNED ones sent to it) then goes 70/30 to TRAIN and VALIDATION.

A label that split serves badly (its pool videos all in VALIDATION, so it would never train, or all in
TRAIN, so VALIDATION never sees it: a label of one or two videos) gets its VALIDATION examples from a
held-out stretch of each of its TRAIN videos instead (:func:`hold_out_stretches`), a clip away from the
TRAIN time on each side. A label left with no TRAIN example at all is refused.

Whole videos are assigned, never single segments. The order in which videos fill the sets is a hash of
the content hash and the seed (hash buckets, as TFX ExampleGen), so a split is deterministic for a
seed. Within each primary-label stratum the counts approach the target ratios, and rounding is carried
from one stratum to the next so the overall ratios hold too. A video keeps its set once assigned:
splitting again after an append only places the new videos, filling each stratum towards its targets.
"""

import hashlib
import logging
import math
from collections import Counter
from dataclasses import dataclass, field

from automl_video.data import dataset as ds
from automl_video.data.dataset import Dataset, MLUse, Split, SplitConfig, ValidationStretch, Video
from automl_video.tasks import get_task
from automl_video.tasks.base import AnnotationRules

log = logging.getLogger(__name__)

DEFAULT_TRAINING_FRACTION = 0.8  # UNASSIGNED → training pool; the rest → TEST
VALIDATION_FRACTION = 0.3  # of the training pool
MIN_TRAINING_VIDEOS_PER_LABEL = 10
NO_LABEL_STRATUM = ""  # videos with no label are one stratum of their own
_POOL = "POOL"  # the training pool, before its TRAIN/VALIDATION split
_TRAINING_SETS = (Split.TRAIN, Split.VALIDATION)
_LEFT_OUT = None

# A video's set during planning: a Split, the training pool, or left out of every set.
Placement = Split | str | None


@dataclass
class SplitCount:
    videos: int
    annotations: int


@dataclass
class HeldOutLabel:
    """A label whose VALIDATION examples come from stretches held out of its TRAIN videos."""

    label: str
    videos: int  # TRAIN videos holding a stretch out for it
    seconds: float  # the stretches' total length
    gap_seconds: float  # the time left unused on each side of a stretch (the smallest of them)


@dataclass
class SplitResult:
    """The split of a dataset after :func:`split_dataset`."""

    dataset_uri: str
    prediction_type: str
    seed: int
    training_fraction: float | None
    test_fraction: float | None
    counts: dict[Split, SplitCount]
    videos_moved: int  # videos placed in a set, or moved, by this split
    left_out: int  # videos in no set (fractions summing below 1)
    warnings: list[str] = field(default_factory=list)
    held_out_labels: list[HeldOutLabel] = field(default_factory=list)


def split_fits_ml_use(split: Split | None, ml_use: MLUse) -> bool:
    """Whether a video of ``ml_use`` may keep ``split`` (TEST data stays in TEST, TRAIN data out of it)."""
    if ml_use == MLUse.TEST:
        return split == Split.TEST
    if ml_use == MLUse.VALIDATION:
        return split == Split.VALIDATION
    if ml_use == MLUse.TRAIN:
        return split in (Split.TRAIN, Split.VALIDATION)
    return split is not None


def validate_fractions(training_fraction: float | None, test_fraction: float | None) -> None:
    """Raise ValueError unless both fractions are absent, or both in [0, 1] with a sum of at most 1."""
    if (training_fraction is None) != (test_fraction is None):
        raise ValueError("give both the training fraction and the test fraction, or neither")
    if training_fraction is None:
        return
    for name, value in (("training", training_fraction), ("test", test_fraction)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} fraction {value} must be between 0 and 1")
    if training_fraction + test_fraction > 1.0 + 1e-9:
        raise ValueError(
            f"training fraction {training_fraction} + test fraction {test_fraction} = "
            f"{training_fraction + test_fraction:g} is more than 1"
        )


def plan_split(
    dataset: Dataset,
    training_fraction: float | None = None,
    test_fraction: float | None = None,
    seed: int = 0,
    resplit: bool = False,
) -> dict[str, Split | None]:
    """The split of every video of ``dataset``, without changing it.

    Args:
        dataset: the dataset; videos that already have a set fitting their ML_USE keep it (unless
            ``resplit``), as do videos listed as left out in its ``split_config``.
        training_fraction: share of UNASSIGNED videos for the training pool (default 0.8 with
            ``test_fraction`` 0.2); give both or neither.
        test_fraction: share of UNASSIGNED videos for TEST.
        seed: changes the hash order in which videos fill the sets.
        resplit: ignore every earlier assignment.

    Returns:
        ``video_id`` → ``TRAIN`` / ``VALIDATION`` / ``TEST``, or None for a video left out of every set.
    """
    validate_fractions(training_fraction, test_fraction)
    if training_fraction is None:
        training_fraction, test_fraction = DEFAULT_TRAINING_FRACTION, 1.0 - DEFAULT_TRAINING_FRACTION
    stratum = _strata(dataset)
    assignment = _kept_assignment(dataset, resplit)
    pool_or_test = _place_unassigned(dataset, assignment, training_fraction, test_fraction, stratum, seed)
    for video_id, chosen in pool_or_test.items():
        if chosen != _POOL:
            assignment[video_id] = chosen

    def in_pool(v: Video) -> bool:
        if v.ml_use != MLUse.UNASSIGNED:
            return v.ml_use == MLUse.TRAIN
        return pool_or_test.get(v.video_id) == _POOL or assignment.get(v.video_id) in (Split.TRAIN, Split.VALIDATION)

    pool = [v for v in dataset.videos if in_pool(v)]
    assignment.update(
        _place_videos(
            pool,
            sets=(Split.TRAIN, Split.VALIDATION),
            fractions=(1.0 - VALIDATION_FRACTION, VALIDATION_FRACTION),
            existing={v.video_id: assignment[v.video_id] for v in pool if v.video_id in assignment},
            stratum=stratum,
            salt=f"{seed}/validation",
        )
    )
    return assignment


def _kept_assignment(dataset: Dataset, resplit: bool) -> dict[str, Split | None]:
    """The sets videos keep from the earlier split: TEST and VALIDATION (Vertex ``ml_use``) videos always,
    others when their set still fits."""
    left_out = set() if resplit or dataset.split_config is None else set(dataset.split_config.left_out)
    assignment: dict[str, Split | None] = {}
    for v in dataset.videos:
        if v.ml_use == MLUse.TEST:
            assignment[v.video_id] = Split.TEST
        elif v.ml_use == MLUse.VALIDATION:
            assignment[v.video_id] = Split.VALIDATION
        elif resplit:
            continue
        elif v.ml_use == MLUse.UNASSIGNED and v.split is None:
            if v.video_id in left_out:
                assignment[v.video_id] = None
        elif split_fits_ml_use(v.split, v.ml_use):
            assignment[v.video_id] = v.split
    return assignment


def _place_unassigned(
    dataset: Dataset,
    assignment: dict[str, Split | None],
    training_fraction: float,
    test_fraction: float,
    stratum: dict[str, str],
    seed: int,
) -> dict[str, Placement]:
    """Step 1: UNASSIGNED videos not placed yet go to the training pool, TEST or out of every set."""
    unassigned = [v for v in dataset.videos if v.ml_use == MLUse.UNASSIGNED]
    pool_or_test = {Split.TRAIN: _POOL, Split.VALIDATION: _POOL, Split.TEST: Split.TEST, None: _LEFT_OUT}
    return _place_videos(
        unassigned,
        sets=(_POOL, Split.TEST, _LEFT_OUT),
        fractions=(training_fraction, test_fraction, max(0.0, 1.0 - training_fraction - test_fraction)),
        existing={v.video_id: pool_or_test[assignment[v.video_id]] for v in unassigned if v.video_id in assignment},
        stratum=stratum,
        salt=f"{seed}/test",
    )


def hold_out_stretches(
    dataset: Dataset, assignment: dict[str, Split | None], resplit: bool = False
) -> dict[str, ValidationStretch]:
    """VALIDATION stretches of TRAIN videos for the labels the video-level ``assignment`` serves badly.

    A label whose training-pool videos are all in VALIDATION (it would never train) or all in TRAIN
    (VALIDATION would never see it) has its VALIDATION videos moved to TRAIN (not those Vertex marked
    ``validation``), and each of its TRAIN videos holds out a stretch (:func:`_stretch`): the label
    still trains on every video and is validated on time it never trained on. Moving a video can leave
    another label of it in the same state, so the rule runs until nothing changes (videos only move to
    TRAIN and each holds one stretch, so it ends). A label served by the video-level split keeps it.

    Args:
        dataset: the dataset (its videos' stretches of the previous split are kept unless ``resplit``,
            while the video stays in TRAIN).
        assignment: ``video_id`` → set from :func:`plan_split`; updated in place.
        resplit: ignore the previous split's stretches.

    Returns:
        ``video_id`` → its stretch.
    """
    rules = get_task(dataset.prediction_type).annotations
    gap = rules.clip_seconds([a for v in dataset.videos for a in v.annotations])
    stretches = {
        v.video_id: v.validation_stretch
        for v in dataset.videos
        if not resplit and v.validation_stretch is not None and assignment.get(v.video_id) == Split.TRAIN
    }
    changed = True
    while changed:
        changed = False
        for label in dataset.label_names():
            changed |= _hold_out_for(label, dataset, assignment, stretches, rules, gap)
    return stretches


def _hold_out_for(
    label: str,
    dataset: Dataset,
    assignment: dict[str, Split | None],
    stretches: dict[str, ValidationStretch],
    rules: AnnotationRules,
    gap: float,
) -> bool:
    """Give ``label`` TRAIN videos with held-out stretches if it lacks TRAIN or VALIDATION; whether
    anything changed."""
    pool = [v for v in dataset.videos if label in v.labels() and assignment.get(v.video_id) in _TRAINING_SETS]
    training = [v for v in pool if assignment[v.video_id] == Split.TRAIN]
    validated = any(assignment[v.video_id] == Split.VALIDATION for v in pool) or any(
        label in stretches[v.video_id].labels for v in training if v.video_id in stretches
    )
    if not pool or (training and validated):
        return False
    movable = [v for v in pool if assignment[v.video_id] == Split.VALIDATION and v.ml_use != MLUse.VALIDATION]
    for v in movable:
        assignment[v.video_id] = Split.TRAIN
    changed = bool(movable)
    for v in training + movable:
        stretch = stretches.get(v.video_id)
        if stretch is None:
            stretch = _stretch(v, label, rules, gap)
            if stretch is not None:
                stretches[v.video_id] = stretch
                changed = True
        elif label not in stretch.labels and any(
            start < stretch.end and end > stretch.start for start, end in _label_spans(v, label, rules)
        ):
            stretch.labels.append(label)
            changed = True
    return changed


def _label_spans(video: Video, label: str, rules: AnnotationRules) -> list[tuple[float, float]]:
    return sorted(rules.time_span(a) for a in video.annotations if a.spec_name == label)


def _stretch(video: Video, label: str, rules: AnnotationRules, gap: float) -> ValidationStretch | None:
    """The last :data:`VALIDATION_FRACTION` of the time ``label`` covers in ``video``, or None when it
    cannot be held out with ``gap`` on each side and some TRAIN time of the label left.

    The stretch starts where one of the label's annotations starts (the one nearest the 70 % point of
    the label's time) such that a whole annotation of it ends more than ``gap`` before; with none (one
    long segment), at the 70 % point itself when the label's time is long enough to leave at least a
    clip of TRAIN before the gap and a clip of VALIDATION after. It ends where the label's last
    annotation does; TRAIN resumes ``gap`` after that.
    """
    spans = _label_spans(video, label, rules)
    first, last = spans[0][0], min(video.duration, max(end for _, end in spans))
    target = first + (1.0 - VALIDATION_FRACTION) * (last - first)
    cuts = [start for start, _ in spans if start < last and any(end <= start - gap for _, end in spans)]
    if cuts:
        cut = min(cuts, key=lambda start: (abs(start - target), start))
    elif target - gap - first >= gap and last - target >= gap:
        cut = target
    else:
        return None
    return ValidationStretch(start=cut, end=last, gap_seconds=gap, labels=[label])


def apply_split(
    dataset: Dataset,
    assignment: dict[str, Split | None],
    config: SplitConfig,
    stretches: dict[str, ValidationStretch] | None = None,
) -> int:
    """Set every video's split from ``assignment`` (and its held-out stretch from ``stretches``) and
    record ``config`` (with the left-out videos).

    Returns:
        How many videos were placed in a set, or moved to another.
    """
    stretches = stretches or {}
    changed = 0
    for v in dataset.videos:
        chosen = assignment.get(v.video_id)
        changed += chosen != v.split
        v.split = chosen
        v.validation_stretch = stretches.get(v.video_id) if chosen == Split.TRAIN else None
    config.left_out = [v.video_id for v in dataset.videos if v.split is None]
    dataset.split_config = config
    return changed


def split_counts(dataset: Dataset) -> dict[Split, SplitCount]:
    """Videos and annotations in each of TRAIN, VALIDATION and TEST (a TRAIN video holding a
    VALIDATION stretch out counts in both, each with the annotations its part meets)."""
    return {
        name: SplitCount(videos=len(dataset.parts_in(name)), annotations=len(dataset.annotations_in(name)))
        for name in Split
    }


def held_out_labels(dataset: Dataset) -> list[HeldOutLabel]:
    """The labels validated on held-out stretches of TRAIN videos, in label order."""
    by_label: dict[str, list[ValidationStretch]] = {}
    for v in dataset.videos_in(Split.TRAIN):
        for label in v.validation_stretch.labels if v.validation_stretch else ():
            by_label.setdefault(label, []).append(v.validation_stretch)
    return [
        HeldOutLabel(
            label=label,
            videos=len(by_label[label]),
            seconds=round(sum(s.seconds for s in by_label[label]), 3),
            gap_seconds=min(s.gap_seconds for s in by_label[label]),
        )
        for label in dataset.label_names()
        if label in by_label
    ]


def refuse_starved_labels(dataset: Dataset, dataset_uri: str) -> None:
    """Raise DatasetError naming every label of the videos that has no TRAIN example, and the fix.

    A dataset with nothing to train on (only TEST videos: one that models are evaluated on) is not refused.
    """
    if not any(v.split in _TRAINING_SETS for v in dataset.videos):
        return
    training = {a.spec_name for _, a in dataset.annotations_in(Split.TRAIN)}
    problems = []
    for label in dataset.label_names():
        videos = [v for v in dataset.videos if label in v.labels()]
        if not videos or label in training:
            continue
        where = ", ".join(
            f"{count} {name}" for name, count in sorted(Counter(v.split or "in no set" for v in videos).items())
        )
        problems.append(
            f"label {label!r} has no TRAIN example (its videos: {where}); add videos with it, or mark some of "
            "its videos TEST yourself (ML_USE) and the others TRAIN"
        )
    if problems:
        raise ds.DatasetError(f"{dataset_uri}: " + "; ".join(problems))


def split_warnings(dataset: Dataset) -> list[str]:
    """Labels too thin to train on, absent from TEST (so never evaluated) or from VALIDATION."""
    warnings = []
    validated = {a.spec_name for _, a in dataset.annotations_in(Split.VALIDATION)}
    for label in dataset.label_names():
        training = sum(label in v.labels() for v in dataset.videos_in(Split.TRAIN))
        testing = sum(label in v.labels() for v in dataset.videos_in(Split.TEST))
        if training < MIN_TRAINING_VIDEOS_PER_LABEL:
            warnings.append(
                f"label {label!r} has {training} TRAIN videos (fewer than {MIN_TRAINING_VIDEOS_PER_LABEL}); "
                "its model quality will be poor"
            )
        if testing == 0:
            warnings.append(f"label {label!r} has no TEST video; it will not be evaluated")
        if training and label not in validated:
            warnings.append(
                f"label {label!r} has no VALIDATION example (its TRAIN time is too short to hold a stretch "
                "out); early stopping does not watch it"
            )
    return warnings


def split_dataset(
    dataset_uri: str,
    training_fraction: float | None = None,
    test_fraction: float | None = None,
    seed: int | None = None,
    resplit: bool = False,
) -> SplitResult:
    """Split the dataset at ``dataset_uri`` and commit it (one atomic write).

    Settings not given are those of the dataset's previous split (defaults on a first split: seed 0,
    80/20), so a scheduled re-split after an append places the new videos by the same rule.

    Args:
        dataset_uri: folder of the dataset.
        training_fraction: share of UNASSIGNED videos for the training pool; give with ``test_fraction``.
        test_fraction: share of UNASSIGNED videos for TEST; the remainder is left out of every set.
        seed: seed of the hash order.
        resplit: discard every earlier assignment and split from scratch.

    Returns:
        The counts per set, how many videos this split placed or moved, warnings about thin labels and
        the labels validated on held-out stretches.

    Raises:
        DatasetError: a label has no TRAIN example (nothing is written).
    """
    validate_fractions(training_fraction, test_fraction)
    dataset = ds.load(dataset_uri)
    if not dataset.videos:
        raise ds.DatasetError(f"{dataset_uri}: the dataset has no videos to split")
    previous = None if resplit else dataset.split_config
    warnings = []
    if previous is not None:
        if seed is None:
            seed = previous.seed
        if training_fraction is None:
            training_fraction, test_fraction = previous.training_fraction, previous.test_fraction
        settings = (seed, training_fraction, test_fraction)
        if settings != (previous.seed, previous.training_fraction, previous.test_fraction):
            warnings.append(
                "split settings differ from the previous split; videos already placed keep their set "
                "(use resplit to redo them all)"
            )
    seed = 0 if seed is None else seed
    assignment = plan_split(dataset, training_fraction, test_fraction, seed, resplit)
    stretches = hold_out_stretches(dataset, assignment, resplit)
    config = SplitConfig(seed=seed, training_fraction=training_fraction, test_fraction=test_fraction)
    videos_moved = apply_split(dataset, assignment, config, stretches)
    refuse_starved_labels(dataset, dataset_uri)
    ds.save(dataset, dataset_uri)
    warnings += split_warnings(dataset)
    for warning in warnings:
        log.warning("%s", warning)
    held_out = held_out_labels(dataset)
    for entry in held_out:
        log.info(
            "label %r: VALIDATION from held-out stretches of %d TRAIN videos (%.1f s, %.2g s gap each side)",
            entry.label,
            entry.videos,
            entry.seconds,
            entry.gap_seconds,
        )
    return SplitResult(
        dataset_uri=dataset_uri,
        prediction_type=dataset.prediction_type,
        seed=seed,
        training_fraction=training_fraction,
        test_fraction=test_fraction,
        counts=split_counts(dataset),
        videos_moved=videos_moved,
        left_out=len(config.left_out),
        warnings=warnings,
        held_out_labels=held_out,
    )


# -- assignment ------------------------------------------------------------------------------------


def _strata(dataset: Dataset) -> dict[str, str]:
    """``video_id`` → primary label: its rarest label over the dataset (so rare labels are spread first)."""
    video_counts: dict[str, int] = {}
    for v in dataset.videos:
        for label in v.labels():
            video_counts[label] = video_counts.get(label, 0) + 1
    return {
        v.video_id: min(v.labels(), key=lambda label: (video_counts[label], label), default=NO_LABEL_STRATUM)
        for v in dataset.videos
    }


def _bucket_key(video: Video, salt: str) -> str:
    return hashlib.sha256(f"{salt}/{video.content_hash}".encode()).hexdigest()


def _place_videos(
    videos: list[Video],
    sets: tuple[Placement, ...],
    fractions: tuple[float, ...],
    existing: dict[str, Placement],
    stratum: dict[str, str],
    salt: str,
) -> dict[str, Placement]:
    """Place the videos not in ``existing`` so each stratum's sets approach ``fractions``.

    Returns:
        ``video_id`` → set for the videos newly placed.
    """
    groups: dict[str, list[Video]] = {}
    for v in videos:
        groups.setdefault(stratum[v.video_id], []).append(v)
    carry = [0.0] * len(sets)
    placed: dict[str, Placement] = {}
    for name in sorted(groups):
        members = groups[name]
        candidates = sorted((v for v in members if v.video_id not in existing), key=lambda v: _bucket_key(v, salt))
        if not candidates:
            continue
        have = [sum(existing.get(v.video_id, "?") == s for v in members) for s in sets]
        wanted = [max(0.0, f * len(members) - h) for f, h in zip(fractions, have)]
        scale = len(candidates) / sum(wanted)
        counts = _round_carrying(([w * scale for w in wanted]), len(candidates), carry)
        start = 0
        for chosen, count in zip(sets, counts):
            for v in candidates[start : start + count]:
                placed[v.video_id] = chosen
            start += count
    return placed


def _round_carrying(wanted: list[float], total: int, carry: list[float]) -> list[int]:
    """Integer counts summing to ``total``, each the floor or ceiling of ``wanted``.

    The extra units go to the sets most behind their target, counting the rounding ``carry`` left by
    earlier strata (updated in place), so many small strata still add up to the overall ratios.
    """
    counts = [math.floor(w + 1e-9) for w in wanted]
    behind = sorted(range(len(wanted)), key=lambda k: (-(wanted[k] - counts[k] + carry[k]), k))
    for k in behind[: max(0, total - sum(counts))]:
        counts[k] += 1
    for k in range(len(wanted)):
        carry[k] += wanted[k] - counts[k]
    return counts

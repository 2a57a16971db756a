"""The synthetic motion-classification dataset: deterministic bytes, AutoML CSV structure, GCS, the CLI."""

import csv
import io
import json
import math
import re

import pytest

from automl_video import cli, storage, synth, video
from automl_video.tasks.classification import synth as classification_synth
from automl_video.tasks.classification.annotations import NEGATIVE_LABEL

LABEL_PATTERN = re.compile(r"^[A-Za-z0-9_]{1,32}$")
TINY = dict(classes=2, videos_per_class=3, seconds=1.0, width=48, height=32, fps=10)


def _rows(uri: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(storage.read_text(uri))))


def _video_bytes(result: classification_synth.SynthResult) -> list[bytes]:
    return [storage.read_bytes(v) for v in result.videos]


def test_same_seed_gives_identical_bytes_and_another_seed_does_not(tmp_path):
    first = classification_synth.generate(str(tmp_path / "a"), seed=3, **TINY)
    again = classification_synth.generate(str(tmp_path / "b"), seed=3, **TINY)
    other = classification_synth.generate(str(tmp_path / "c"), seed=4, **TINY)
    assert _video_bytes(first) == _video_bytes(again)
    assert all(x != y for x, y in zip(_video_bytes(first), _video_bytes(other)))


def test_import_csvs_follow_automl_two_level_format(synth_small):
    top = _rows(synth_small.import_csv)
    assert [use for use, _ in top] == ["TRAIN", "TEST", "UNASSIGNED"]
    assert {use: uri for use, uri in top} == synth_small.csvs
    rows_by_use = {use: _rows(uri) for use, uri in top}
    labels_by_use = {use: {r[1] for r in rows} for use, rows in rows_by_use.items()}
    for use in ("TRAIN", "TEST"):
        assert set(synth_small.class_names) <= labels_by_use[use] | labels_by_use["UNASSIGNED"]
    counts = {use: len({r[0] for r in rows}) for use, rows in rows_by_use.items()}
    assert counts["UNASSIGNED"] > counts["TEST"] > 0 and counts["TRAIN"] > 0
    # Every class has its own TEST and TRAIN video (as the first segment's label).
    for use in ("TRAIN", "TEST"):
        first_labels = {rows[1] for rows in rows_by_use[use] if rows[2] == "0"}
        assert set(synth_small.class_names) <= first_labels

    segments: dict[str, list[tuple[str, float, float]]] = {}
    video_use: dict[str, str] = {}
    for use, rows in rows_by_use.items():
        for uri, label, start, end in rows:
            assert label == NEGATIVE_LABEL or (LABEL_PATTERN.match(label) and label in synth_small.class_names)
            segments.setdefault(uri, []).append((label, float(start), float(end)))
            assert video_use.setdefault(uri, use) == use, f"{uri} is in two ML_USE sets"
    assert sorted(segments) == sorted(synth_small.videos)
    multi = [s for s in segments.values() if len(s) > 1]
    assert multi, "no multi-segment video"
    assert any(any(label == "-" for label, _, _ in s) for s in multi), "no '-' span next to a labelled one"
    assert any(len({label for label, _, _ in s} - {"-"}) == 2 for s in multi), "no video with two motions"
    for spans in segments.values():
        spans.sort(key=lambda s: s[1])
        assert spans[0][1] == 0 and math.isinf(spans[-1][2])
        for (_, _, end), (_, start, _) in zip(spans, spans[1:]):
            assert end == start  # contiguous, never overlapping


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(classes=1), "classes"),
        (dict(classes=13), "classes"),
        (dict(videos_per_class=0), "videos_per_class"),
        (dict(seconds=0.1), "fewer than 4 frames"),
    ],
)
def test_bad_arguments_are_refused(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        classification_synth.generate(str(tmp_path), **kwargs)


def test_generate_writes_to_gcs(gcs_bucket):
    result = classification_synth.generate(f"{gcs_bucket}/synth", seed=5, **TINY)
    assert result.import_csv == f"{gcs_bucket}/synth/import.csv"
    assert all(uri.startswith(f"{gcs_bucket}/synth/") for _, uri in _rows(result.import_csv))
    assert all(row[0].startswith(f"{gcs_bucket}/synth/videos/") for row in _rows(result.csvs["UNASSIGNED"]))
    assert video.probe(result.videos[0]).duration == pytest.approx(1.0, abs=0.01)


def test_cli_prints_what_it_wrote(tmp_path, capsys):
    code = cli.main(
        [
            "synth",
            "--output",
            str(tmp_path),
            "--classes",
            "3",
            "--videos-per-class",
            "1",
            "--seconds",
            "1",
            "--width",
            "32",
            "--height",
            "32",
            "--json",
        ]
    )
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["class_names"] == list(synth.MOTIONS[:3])
    assert len(printed["videos"]) == 3 and all(storage.exists(v) for v in printed["videos"])
    assert cli.main(["synth", "--output", str(tmp_path), "--classes", "99"]) == 2

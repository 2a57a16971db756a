"""AutoML CSV import, split and describe on real generated videos (local and through the GCS emulator)."""

import csv
import dataclasses
import json
import shutil

import numpy as np
import pytest

from automl_video import cli, storage, synth, video
from automl_video.data import dataset as ds
from automl_video.data import describe, splits
from automl_video.data.importer import ImportFailed, import_data
from automl_video.rpc import MAX_PARTIAL_FAILURES
from automl_video.tasks.classification import synth as classification_synth


@pytest.fixture(scope="session")
def media(synth_small, tmp_path_factory):
    """Videos beside ``synth_small``: a byte copy of one, a file that is not a video, a 62-minute one."""
    folder = tmp_path_factory.mktemp("media")
    copy = folder / "copy_of_v0000.mov"
    shutil.copyfile(synth_small.videos[0], copy)
    broken = folder / "broken.mp4"
    broken.write_bytes(b"this is not a video\n" * 50)
    long = synth.make_video(str(folder / "long.mp4"), [np.zeros((16, 16, 3), np.uint8)] * 2, timestamps=[0.0, 3720.0])
    return {
        "video": synth_small.videos[0],
        "other": synth_small.videos[2],
        "copy": str(copy),
        "broken": str(broken),
        "long": long,
        "missing": str(folder / "missing.mp4"),
    }


def write_import(folder, listing: dict[str, list[str]] | list[tuple[str, list[str]]]) -> str:
    """Write second-level CSVs (one per ML_USE entry) and the top-level CSV listing them; return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    entries = listing.items() if isinstance(listing, dict) else listing
    top = []
    for index, (ml_use, rows) in enumerate(entries):
        path = folder / f"{ml_use.lower()}_{index}.csv"
        path.write_text("".join(row + "\n" for row in rows))
        top.append(f"{ml_use},{path}")
    (folder / "import.csv").write_text("".join(row + "\n" for row in top))
    return str(folder / "import.csv")


def failures_by_row(failures) -> dict[tuple[str, int], str]:
    return {(f.uri.rsplit("/", 1)[-1], f.row): f.message for f in failures}


@pytest.fixture(scope="module")
def imported_small(synth_small, tmp_path_factory):
    """``synth_small`` imported once into a local dataset (read-only for the tests using it)."""
    uri = str(tmp_path_factory.mktemp("imported") / "dataset")
    return uri, import_data([synth_small.import_csv], uri, display_name="small")


def csv_rows(uri: str) -> list[list[str]]:
    return [row for row in csv.reader(storage.read_text(uri).splitlines()) if row]


def test_import_of_the_synthetic_dataset(synth_small, imported_small):
    uri, result = imported_small
    second_level = {use: csv_rows(path) for use, path in synth_small.csvs.items()}
    expected_rows = sum(len(rows) for rows in second_level.values())
    assert (result.imported_rows, result.failed_rows) == (expected_rows, 0)
    assert result.videos_added == len(synth_small.videos) == 24
    assert result.annotations_added == expected_rows
    assert result.partial_failures == [] and result.notes == []
    assert storage.read_jsonl(result.report_uri) == []
    assert result.report_uri == f"{uri}/imports/{result.import_id}.jsonl"

    dataset = ds.load(uri)
    assert dataset.display_name == "small" and not dataset.exhaustive
    assert sorted(dataset.label_names()) == sorted(synth_small.class_names)
    by_uri = {v.uri: v for v in dataset.videos}
    for use, rows in second_level.items():
        for video_uri, label, start, end in rows:
            v = by_uri[video_uri]
            assert v.ml_use == use and v.split is None
            assert v.video_id == v.content_hash[:16] == video.content_hash(video_uri)[:16]
            segment = next(s for s in v.annotations if s.label == label and s.start == float(start))
            assert segment.end == (v.duration if end == "inf" else float(end))  # inf resolved to the duration
            assert segment.source_uri == synth_small.csvs[use]
    assert all(v.duration == pytest.approx(2.0) for v in dataset.videos)
    assert dataset.imports[0].sources == [synth_small.import_csv]


def test_describe_document(synth_small, imported_small):
    uri, _ = imported_small
    doc = dataclasses.asdict(describe.describe(uri))
    rows = [r for path in synth_small.csvs.values() for r in csv_rows(path)]
    assert doc["video_count"] == 24 and doc["annotation_count"] == len(rows)
    assert doc["prediction_type"] == "classification"
    for spec in doc["annotation_specs"]:
        labelled = [r for r in rows if r[1] == spec["display_name"]]
        assert spec["example_count"] == len(labelled)
        assert spec["video_count"] == len({r[0] for r in labelled})
        assert set(spec) == {"id", "display_name", "example_count", "video_count"}
    assert [s["id"] for s in doc["annotation_specs"]] == ["1", "2", "3", "4"]
    assert doc["splits"] == {name: {"videos": 0, "annotations": 0} for name in ("TRAIN", "VALIDATION", "TEST")}
    assert doc["failed_row_count"] == 0 and doc["partial_failures"] == []
    assert json.loads(json.dumps(doc)) == doc


def test_every_row_error_names_csv_row_and_reason(media, tmp_path, monkeypatch):
    probed, hashed = [], []
    real_probe, real_hash = video.probe, video.content_hash
    monkeypatch.setattr(video, "probe", lambda uri: probed.append(uri) or real_probe(uri))
    monkeypatch.setattr(video, "content_hash", lambda uri: hashed.append(uri) or real_hash(uri))
    v, other = media["video"], media["other"]
    good = [f"{other},good_{i},{i / 10},{i / 10 + 0.1}" for i in range(15)]
    bad = [
        f"{v},too,many,columns,here",  # 16
        f"{v},three_columns",  # 17
        f"{v},{'x' * 33},0,1",  # 18 label too long
        f"{v},bad-label,0,1",  # 19 character outside [A-Za-z0-9_]
        f"{v},,0,1",  # 20 empty label
        f"{v},lbl,abc,1",  # 21
        f"{v},lbl,-1,1",  # 22
        f"{v},lbl,0,xyz",  # 23
        f"{v},lbl,0,nan",  # 24
        f"{v},lbl,1.5,1.0",  # 25 START after END
        f"{v},lbl,1,1",  # 26 START = END
        f"{v},lbl,0,5",  # 27 END after the end of a 2 s video
        f"{v},lbl,2.5,inf",  # 28 START after the end of the video
        f"{media['missing']},lbl,0,1",  # 29
        f"{media['broken']},lbl,0,1",  # 30
        f"{media['broken']},lbl,1,2",  # 31 same broken video: still probed once
        f"{media['long']},lbl,0,10",  # 32 longer than 60 minutes
        f"{v},positive,0,1",  # 33 imported
        f"{v},-,0.5,1.5",  # 34 '-' overlaps 'positive'
        f"{v},-,1,2",  # 35 '-' touching 'positive' at 1 s is fine
        ",lbl,0,1",  # 36
    ]
    top = write_import(tmp_path / "csvs", [("TRAIN", good + bad), ("VALIDATE", []), ("train", [])])
    with open(top, "a") as f:
        f.write("UNASSIGNED\nTEST,\n")

    result = import_data([top], str(tmp_path / "dataset"), max_error_fraction=0.6)

    failures = failures_by_row(storage_failures(result))
    name = "train_0.csv"
    expected = {
        (name, 16): "expected 4 columns VIDEO_URI,LABEL,START,END, got 5",
        (name, 17): "expected 4 columns VIDEO_URI,LABEL,START,END, got 2",
        (name, 18): "label 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' must be 1-32 characters",
        (name, 19): "label 'bad-label' must be 1-32 characters",
        (name, 20): "label '' must be 1-32 characters",
        (name, 21): "START 'abc' is not a number of seconds",
        (name, 22): "START -1 is negative",
        (name, 23): "END 'xyz' is not a number of seconds or inf",
        (name, 24): "END 'nan' is not a number of seconds or inf",
        (name, 25): "START 1.5 must be before END 1.0",
        (name, 26): "START 1 must be before END 1",
        (name, 27): f"END 5 is after the end of video {v} (2.000 s)",
        (name, 28): f"START 2.5 is not before the end of video {v} (2.000 s)",
        (name, 29): f"{media['missing']}: file not found",
        (name, 30): f"{media['broken']}: cannot open as a video",
        (name, 31): f"{media['broken']}: cannot open as a video",
        (name, 32): f"video {media['long']} lasts 3720 s; videos may last at most 60 minutes",
        (name, 34): "'-' segments must not overlap another label's segment in the same video: '-' 0.5-1.5 s "
        f"overlaps 'positive' 0-1 s ({tmp_path}/csvs/train_0.csv row 33)",
        (name, 36): "empty VIDEO_URI",
        ("import.csv", 2): "ML_USE 'VALIDATE' must be one of TRAIN, TEST, UNASSIGNED",
        ("import.csv", 3): "ML_USE 'train' must be one of TRAIN, TEST, UNASSIGNED",
        ("import.csv", 4): "expected 2 columns ML_USE,CSV_URI, got 1",
        ("import.csv", 5): "empty CSV_URI",
    }
    assert set(failures) == set(expected)
    for key, message in expected.items():
        assert failures[key].startswith(message), (key, failures[key])
    assert result.failed_rows == len(expected) == 23
    assert result.imported_rows == 15 + 2  # the good rows, 'positive' and the touching '-'
    assert len(result.partial_failures) == MAX_PARTIAL_FAILURES
    assert probed.count(media["broken"]) == 1 and hashed.count(media["broken"]) == 1
    assert sorted(set(hashed)) == sorted(hashed)  # one hash per distinct URI, not per row

    summary = describe.describe(str(tmp_path / "dataset"))
    assert summary.failed_row_count == 23
    assert summary.partial_failures == result.partial_failures
    dataset = ds.load(str(tmp_path / "dataset"))
    assert [vars(f) for f in dataset.partial_failures] == [vars(f) for f in result.partial_failures]
    [kept] = [x for x in dataset.videos if x.uri == v]
    assert [(s.label, s.start, s.end) for s in kept.annotations] == [("positive", 0.0, 1.0), ("-", 1.0, 2.0)]
    assert "-" not in dataset.label_names() and "lbl" not in dataset.label_names()


def storage_failures(result):
    """Every failed row, from the import's JSONL report (the result itself keeps the first 20)."""
    return [ds.RowFailure(**row) for row in storage.read_jsonl(result.report_uri)]


def test_a_second_level_csv_given_directly_is_read_as_a_vertex_csv(media, tmp_path):
    second = tmp_path / "videos.csv"
    second.write_text(f"{media['video']},label,0,1\n")
    result = import_data([str(second)], str(tmp_path / "dataset"))
    assert f"{second}: read as a Vertex CSV ([ML_USE,]VIDEO_URI,LABEL,START,END)" in result.notes
    [v] = ds.load(str(tmp_path / "dataset")).videos
    assert v.ml_use == "UNASSIGNED" and [(a.label, a.start, a.end) for a in v.annotations] == [("label", 0.0, 1.0)]


def test_end_within_the_container_rounding_is_clamped_to_the_duration(media, tmp_path):
    top = write_import(tmp_path / "csvs", {"TRAIN": [f"{media['video']},label,1.5,2.05"]})
    import_data([top], str(tmp_path / "dataset"))
    [v] = ds.load(str(tmp_path / "dataset")).videos
    assert v.annotations[0].end == v.duration


@pytest.fixture
def existing_dataset(media, tmp_path):
    """A committed local dataset of two videos and its dataset.json bytes."""
    uri = str(tmp_path / "dataset")
    top = write_import(tmp_path / "first", {"TRAIN": [f"{media['video']},a,0,1", f"{media['other']},b,0,inf"]})
    import_data([top], uri)
    return uri, storage.read_bytes(ds.dataset_file(uri))


def assert_untouched(uri: str, before: bytes) -> None:
    assert storage.read_bytes(ds.dataset_file(uri)) == before


def test_too_many_failed_rows_import_nothing(existing_dataset, media, tmp_path):
    uri, before = existing_dataset
    rows = [f"{media['video']},new_{i},0,1" for i in range(8)] + [f"{media['missing']},x,0,1"] * 2
    top = write_import(tmp_path / "second", {"UNASSIGNED": rows})
    with pytest.raises(ImportFailed) as caught:
        import_data([top], uri, max_error_fraction=0.1)
    # 2 failures of 11 rows (top-level row included) is 18.2 % > 10 %.
    assert str(caught.value).startswith(
        "2 of 11 rows failed (18.2%, more than max error fraction 0.1); nothing imported"
    )
    assert_untouched(uri, before)
    assert len(caught.value.failures) == 2
    assert storage.read_jsonl(caught.value.report_uri) == [vars(f) for f in caught.value.failures]

    # The same rows pass with a looser threshold.
    result = import_data([top], uri, max_error_fraction=0.2)
    assert (result.imported_rows, result.failed_rows) == (8, 2)


@pytest.mark.parametrize("problem", ["missing_source", "missing_listed_csv", "bad_quoting", "not_text"])
def test_unreadable_csv_fails_the_whole_import(problem, existing_dataset, media, tmp_path):
    uri, before = existing_dataset
    good = write_import(tmp_path / "good", {"TRAIN": [f"{media['video']},fresh,0,1"]})
    broken = tmp_path / "broken.csv"
    if problem == "missing_source":
        sources, expected = [good, str(tmp_path / "nowhere.csv")], f"{tmp_path}/nowhere.csv: CSV not found"
    elif problem == "missing_listed_csv":
        broken.write_text(f"TEST,{tmp_path}/gone.csv\n")
        sources, expected = [good, str(broken)], f"{tmp_path}/gone.csv: CSV not found (listed in {broken} row 1)"
    elif problem == "bad_quoting":
        broken.write_text(f'TRAIN,"{tmp_path}/a.csv"x\n')
        sources, expected = [good, str(broken)], f"{broken}: cannot parse CSV at line 1"
    else:
        broken.write_bytes(b"\xff\xd8\xff\xe0 a JPEG, not a CSV")
        sources, expected = [good, str(broken)], f"{broken}: not a UTF-8 text CSV"
    with pytest.raises(ImportFailed, match="nothing imported") as caught:
        import_data(sources, uri)
    assert str(caught.value).startswith(expected)
    assert_untouched(uri, before)


def test_cli_import_failure_is_one_line_and_nonzero(existing_dataset, tmp_path, capsys):
    uri, before = existing_dataset
    code = cli.main(["dataset", "import", "--source", str(tmp_path / "absent.csv"), "--dataset", uri])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert err[-1] == f"automl-video: error: {tmp_path}/absent.csv: CSV not found; nothing imported"
    assert_untouched(uri, before)


def test_same_content_under_two_uris_is_one_video_with_merged_annotations(media, tmp_path):
    uri = str(tmp_path / "dataset")
    top = write_import(
        tmp_path / "csvs",
        [
            ("UNASSIGNED", [f"{media['video']},walk,0,1"]),
            ("TRAIN", [f"{media['copy']},run,1,2", f"{media['copy']},walk,0,1"]),  # second row: duplicate
            ("TEST", [f"{media['video']},jump,0.5,1.5"]),
        ],
    )
    result = import_data([top], uri)

    [v] = ds.load(uri).videos
    assert v.uris == [media["video"], media["copy"]] and v.uri == media["video"]
    segments = sorted((s.label, s.start, s.end) for s in v.annotations)
    assert segments == [("jump", 0.5, 1.5), ("run", 1.0, 2.0), ("walk", 0.0, 1.0)]
    assert v.ml_use == "TEST"  # TEST > TRAIN > UNASSIGNED: test data never reaches training
    assert (result.imported_rows, result.videos_added, result.annotations_added) == (4, 1, 3)
    assert "1 duplicate rows (same video content and annotation) imported once" in result.notes
    assert any("the same content under 2 URIs" in n for n in result.notes)
    assert any(
        f"video {v.video_id}" in n and "conflicting ML_USE UNASSIGNED, TRAIN, TEST; using TEST" in n
        for n in result.notes
    )
    assert ds.load(uri).imports[0].notes == result.notes


def test_appending_keeps_existing_videos_and_their_splits(synth_small, tmp_path):
    uri = str(tmp_path / "dataset")
    first_half = [r for r in csv_rows(synth_small.csvs["UNASSIGNED"]) if r[0] in synth_small.videos[:12]]
    second_half = [r for r in csv_rows(synth_small.csvs["UNASSIGNED"]) if r[0] not in synth_small.videos[:12]]
    import_data([write_import(tmp_path / "a", {"UNASSIGNED": [",".join(r) for r in first_half]})], uri)
    splits.split_dataset(uri, seed=3)
    before = {v.video_id: v.split for v in ds.load(uri).videos}

    top = write_import(tmp_path / "b", {"UNASSIGNED": [",".join(r) for r in second_half + first_half[:3]]})
    result = import_data([top], uri)
    assert result.videos_added == len({r[0] for r in second_half})
    assert result.annotations_added == len(second_half)  # rows already in the dataset are not added again
    dataset = ds.load(uri)
    assert {v.video_id: v.split for v in dataset.videos if v.video_id in before} == before
    assert all(v.split is None for v in dataset.videos if v.video_id not in before)
    assert len(dataset.imports) == 2

    splits.split_dataset(uri)
    after = {v.video_id: v.split for v in ds.load(uri).videos}
    assert {k: after[k] for k in before} == before
    assert None not in after.values()


def test_reimport_with_a_new_ml_use_unsets_a_split_that_no_longer_fits(media, tmp_path):
    uri = str(tmp_path / "dataset")
    import_data([write_import(tmp_path / "a", {"TRAIN": [f"{media['video']},a,0,1"]})], uri)
    splits.split_dataset(uri)
    assert ds.load(uri).videos[0].split in ("TRAIN", "VALIDATION")

    result = import_data([write_import(tmp_path / "b", {"TEST": [f"{media['copy']},a,1,2"]})], uri)
    [v] = ds.load(uri).videos
    assert (v.ml_use, v.split) == ("TEST", None)
    assert any("its split" in n and "was unset" in n for n in result.notes)
    splits.split_dataset(uri)
    assert ds.load(uri).videos[0].split == "TEST"


def test_negative_segments_cannot_overlap_labels_from_an_earlier_import(existing_dataset, media, tmp_path):
    uri, _ = existing_dataset  # media['video'] has 'a' over 0-1 s
    top = write_import(tmp_path / "neg", {"TRAIN": [f"{media['video']},-,0.5,2", f"{media['video']},-,1,2"]})
    result = import_data([top], uri, max_error_fraction=0.5)
    assert [(f.row, f.message.split(":")[0]) for f in result.partial_failures] == [
        (1, "'-' segments must not overlap another label's segment in the same video")
    ]
    # And a label cannot be added over an earlier '-' segment.
    top = write_import(tmp_path / "pos", {"TRAIN": [f"{media['copy']},late,1.5,2", f"{media['copy']},ok,0,1"]})
    result = import_data([top], uri, max_error_fraction=0.5)
    assert [(f.row, f.message) for f in result.partial_failures] == [
        (
            1,
            "'-' segments must not overlap another label's segment in the same video: "
            f"'late' 1.5-2 s overlaps '-' 1-2 s ({tmp_path}/neg/train_0.csv row 2)",
        )
    ]


def test_exhaustive_flag_is_recorded_and_must_match_on_append(media, tmp_path):
    uri = str(tmp_path / "dataset")
    top = write_import(tmp_path / "csvs", {"TRAIN": [f"{media['video']},a,0,1"]})
    import_data([top], uri, exhaustive=True)
    assert ds.load(uri).exhaustive
    before = storage.read_bytes(ds.dataset_file(uri))
    with pytest.raises(ds.DatasetError, match="imported with exhaustive=true; import again with --exhaustive"):
        import_data([top], uri)
    assert_untouched(uri, before)


def test_relative_uris_are_resolved_from_the_csv_folder(media, tmp_path):
    folder = tmp_path / "portable"
    (folder / "labels").mkdir(parents=True)
    shutil.copyfile(media["video"], folder / "clip.mp4")
    (folder / "labels" / "train.csv").write_text("../clip.mp4,a,0,1\n")
    (folder / "import.csv").write_text("TRAIN,labels/train.csv\n")
    import_data([str(folder / "import.csv")], str(tmp_path / "dataset"))
    [v] = ds.load(str(tmp_path / "dataset")).videos
    assert v.uri == f"{folder}/clip.mp4"


def test_split_of_imported_videos_never_shares_content_between_sets(synth_small, media, tmp_path):
    uri = str(tmp_path / "dataset")
    extra = write_import(tmp_path / "extra", {"UNASSIGNED": [f"{media['copy']},left_to_right,0,inf"]})
    import_data([synth_small.import_csv, extra], uri)
    splits.split_dataset(uri)
    dataset = ds.load(uri)
    assert all(v.split in tuple(ds.Split) for v in dataset.videos)
    sets = {name: {v.content_hash for v in dataset.videos_in(name)} for name in tuple(ds.Split)}
    assert not (sets["TRAIN"] & sets["VALIDATION"] or sets["TRAIN"] & sets["TEST"] or sets["VALIDATION"] & sets["TEST"])
    uris = {name: {u for v in dataset.videos_in(name) for u in v.uris} for name in tuple(ds.Split)}
    both = [n for n in tuple(ds.Split) if {media["video"], media["copy"]} <= uris[n]]
    assert len(both) == 1  # the two URIs of one content land in the same set
    assert sum(len(s) for s in sets.values()) == len(dataset.videos) == 24


def test_object_store_sources_and_destination(object_store, tmp_path, capsys):
    gcs_bucket = object_store  # gs:// or s3://
    source = classification_synth.generate(f"{gcs_bucket}/synth", classes=2, videos_per_class=3, seconds=1.0, seed=1)
    uri = f"{gcs_bucket}/datasets/motion"

    assert cli.main(["dataset", "import", "--source", source.import_csv, "--dataset", uri, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["videos_added"], result["failed_rows"]) == (6, 0)
    assert result["report_uri"].startswith(f"{uri}/imports/") and storage.exists(result["report_uri"])
    assert cli.main(["dataset", "split", "--dataset", uri, "--json"]) == 0
    capsys.readouterr()
    assert cli.main(["dataset", "describe", "--dataset", uri, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["video_count"] == 6
    assert sum(s["videos"] for s in doc["splits"].values()) == 6
    assert {v.uri for v in ds.load(uri).videos} == set(source.videos)

    before = storage.read_bytes(ds.dataset_file(uri))
    storage.write_text(f"{gcs_bucket}/bad.csv", f"TRAIN,{gcs_bucket}/not-there.csv\n")
    assert cli.main(["dataset", "import", "--source", f"{gcs_bucket}/bad.csv", "--dataset", uri]) == 1
    assert f"{gcs_bucket}/not-there.csv: CSV not found" in capsys.readouterr().err
    assert storage.read_bytes(ds.dataset_file(uri)) == before


def test_cli_describe_of_a_missing_dataset_fails_with_one_line(tmp_path, capsys):
    assert cli.main(["dataset", "describe", "--dataset", str(tmp_path / "nothing")]) == 1
    assert "no dataset here" in capsys.readouterr().err


def test_bad_arguments_and_empty_sources_are_refused(media, tmp_path):
    top = write_import(tmp_path / "csvs", {"TRAIN": [f"{media['video']},a,0,1"]})
    with pytest.raises(ValueError, match="max error fraction 1.5 must be between 0 and 1"):
        import_data([top], str(tmp_path / "dataset"), max_error_fraction=1.5)
    with pytest.raises(ValueError, match="no --source given"):
        import_data([], str(tmp_path / "dataset"))
    empty = tmp_path / "empty.csv"
    empty.write_text("\n\n")
    with pytest.raises(ImportFailed, match="no rows to import"):
        import_data([str(empty)], str(tmp_path / "dataset"))
    assert not ds.exists(str(tmp_path / "dataset"))


def test_cli_human_output(media, tmp_path, capsys):
    uri = str(tmp_path / "dataset")
    top = write_import(tmp_path / "csvs", {"UNASSIGNED": [f"{media['video']},a,0,1", f"{media['missing']},a,0,1"]})
    args = ["--source", top, "--dataset", uri, "--max-error-fraction", "0.5", "--display-name", "Motion"]
    assert cli.main(["dataset", "import", *args]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"imported 1 rows into {uri}: 1 new videos, 1 new segments; 1 rows failed")
    assert f"unassigned_0.csv row 2: {media['missing']}: file not found" in out
    assert cli.main(["dataset", "split", "--dataset", uri]) == 0
    assert "0 videos left out" in capsys.readouterr().out
    assert cli.main(["dataset", "describe", "--dataset", uri]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Motion: 1 videos, 1 segments")
    assert "label 'a' (id 1): 1 segments in 1 videos" in out and "failed rows: 1" in out

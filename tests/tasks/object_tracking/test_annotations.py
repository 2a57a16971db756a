"""Object tracking import rules and errors (AutoML two-level CSV and Vertex JSONL) on real videos."""

import json

import pytest

from automl_video import storage
from automl_video.data import dataset as ds
from automl_video.data import describe
from automl_video.data.importer import ImportFailed, import_data
from automl_video.tasks.object_tracking.annotations import MAX_BOXES_PER_FRAME
from tests.data.test_import import write_import


def boxes_of(dataset_uri: str, uri: str) -> list[tuple]:
    [video] = [v for v in ds.load(dataset_uri).videos if uri in v.uris]
    return sorted((b.label, b.instance_id, b.time, b.corners) for b in video.annotations)


def failure_messages(result) -> dict[tuple[str, int], str]:
    rows = storage.read_jsonl(result.report_uri)
    return {(row["uri"].rsplit("/", 1)[-1], row["row"]): row["message"] for row in rows}


def test_csv_boxes_timestamps_and_unlabelled_videos(tracking_media, tmp_path):
    v, ten = tracking_media["thirty"], tracking_media["ten"]
    rows = [
        f"{v},car,1,0.5,.1,.2,.4,.2,.4,.6,.1,.6",  # 1 four vertices, no leading zeros
        f"{v},car,2,1.033,0.3,0.1,0.5,0.3,0.3,0.5,0.1,0.3",  # 2 a rotated quadrilateral: its bounding rectangle
        f"{v},bike,,1.0333,.2,.2,,,.3,.35,,",  # 3 two diagonal vertices, no instance id; the frame of row 2
        f"{v},bike,0.02,.5,.5,,,.6,.6,,",  # 4 no INSTANCE_ID column; 0.02 s is nearest to frame 1
        f"{v},car,1,1.99,0,0,,,1,1,,",  # 5 past the last frame's time: the last frame
        f"{ten},,,,,,,,,,,",  # 6 a video not yet labelled
        f"{v},car,1,0.5,.1,.2,.4,.2,.4,.6,.1,.6",  # 7 an exact duplicate of row 1: imported once
    ]
    top = write_import(tmp_path / "csvs", [("TRAIN", rows), ("TEST", []), ("UNASSIGNED", [])])
    dataset_uri = str(tmp_path / "dataset")
    result = import_data([top], dataset_uri, prediction_type="object_tracking")
    assert (result.imported_rows, result.failed_rows, result.videos_added, result.annotations_added) == (7, 0, 2, 5)
    assert any("1 duplicate rows" in note for note in result.notes)
    assert boxes_of(dataset_uri, v) == [  # times are frame times, rounded to the microsecond
        ("bike", 0, round(1 / 30, 6), pytest.approx((0.5, 0.5, 0.6, 0.6))),
        ("bike", 0, round(31 / 30, 6), pytest.approx((0.2, 0.2, 0.3, 0.35))),
        ("car", 1, 0.5, pytest.approx((0.1, 0.2, 0.4, 0.6))),
        ("car", 1, round(59 / 30, 6), (0.0, 0.0, 1.0, 1.0)),
        ("car", 2, round(31 / 30, 6), pytest.approx((0.1, 0.1, 0.5, 0.5))),
    ]
    assert boxes_of(dataset_uri, ten) == []
    dataset = ds.load(dataset_uri)
    assert dataset.prediction_type == "object_tracking" and dataset.label_names() == ["car", "bike"]
    assert {v.ml_use for v in dataset.videos} == {"TRAIN"}
    summary = describe.describe(dataset_uri)
    assert (summary.video_count, summary.annotation_count) == (2, 5)
    assert {s.display_name: (s.example_count, s.video_count) for s in summary.annotation_specs} == {
        "car": (3, 1),
        "bike": (2, 1),
    }


def test_every_csv_row_error_names_the_file_row_and_reason(tracking_media, tmp_path):
    v = tracking_media["thirty"]
    box = ".1,.1,,,.2,.2,,"
    rows = [
        f"{v},car,1,0.1,{box}",  # 1 imported
        f"{v},car,1,0.1,.1,.1,.2,.2",  # 2
        f",car,1,0.1,{box}",  # 3
        f"{v},car-1,1,0.1,{box}",  # 4
        f"{v},{'c' * 33},1,0.1,{box}",  # 5
        f"{v},car,0,0.1,{box}",  # 6
        f"{v},car,x,0.1,{box}",  # 7
        f"{v},car,1,abc,{box}",  # 8
        f"{v},car,1,-1,{box}",  # 9
        f"{v},car,1,inf,{box}",  # 10
        f"{v},car,1,3.5,{box}",  # 11 after the end of the 2 s video
        f"{v},car,1,0.2,1.2,.1,,,.2,.2,,",  # 12
        f"{v},car,1,0.2,abc,.1,,,.2,.2,,",  # 13
        f"{v},car,1,0.2,.3,.1,,,.2,.2,,",  # 14 right vertex before the left one
        f"{v},car,1,0.2,.1,.1,.1,.2,.1,.3,.1,.4",  # 15 four vertices on a line
        f"{v},car,1,0.2,.1,.2,.3,,,,,",  # 16 three coordinates
        f"{v},bike,1,0.3,{box}",  # 17 instance 1 is a car
        f"{v},car,1,0.1,.3,.3,,,.4,.4,,",  # 18 instance 1 has a box at 0.1 s already
        f"{tracking_media['missing']},car,1,0.1,{box}",  # 19
        f"{tracking_media['broken']},car,1,0.1,{box}",  # 20
        f"{v},,,,,,,,,,",  # 21 not yet labelled, 11 columns: fine
    ]
    top = write_import(tmp_path / "csvs", [("TRAIN", rows), ("VALIDATE", [])])
    result = import_data([top], str(tmp_path / "dataset"), max_error_fraction=1.0, prediction_type="object_tracking")
    failures = failure_messages(result)
    name = "train_0.csv"
    expected = {
        (name, 2): "expected 12 columns VIDEO_URI,LABEL,INSTANCE_ID,TIMESTAMP,x1,y1,x2,y2,x3,y3,x4,y4 (or 11 without",
        (name, 3): "empty VIDEO_URI",
        (name, 4): "label 'car-1' must be 1-32 characters of A-Z, a-z, 0-9 and _",
        (name, 5): f"label '{'c' * 33}' must be 1-32 characters",
        (name, 6): "INSTANCE_ID '0' is not a positive integer",
        (name, 7): "INSTANCE_ID 'x' is not a positive integer",
        (name, 8): "TIMESTAMP 'abc' is not a number of seconds",
        (name, 9): "TIMESTAMP '-1' must be a finite number of seconds >= 0",
        (name, 10): "TIMESTAMP 'inf' must be a finite number of seconds >= 0",
        (name, 11): f"TIMESTAMP 3.5 is after the end of video {v} (2.000 s)",
        (name, 12): "x_min '1.2' is outside [0, 1]",
        (name, 13): "x_min 'abc' is not a number",
        (name, 14): "two-vertex BOUNDING_BOX (.3,.1) (.2,.2) must be the top-left then the bottom-right vertex",
        (name, 15): "BOUNDING_BOX 0.1,0.1 to 0.1,0.4 has no area",
        (name, 16): "BOUNDING_BOX must be four vertices x1,y1,x2,y2,x3,y3,x4,y4 or two diagonal ones",
        (name, 17): f"INSTANCE_ID 1 is label 'car' ({tmp_path}/csvs/train_0.csv row 1); an instance id names one "
        "object of one label within the video, not 'bike'",
        (name, 18): f"INSTANCE_ID 1 already has a box at 0.1 s ({tmp_path}/csvs/train_0.csv row 1); an instance "
        "has one box per frame",
        (name, 19): f"{tracking_media['missing']}: file not found",
        (name, 20): f"{tracking_media['broken']}: cannot open as a video",
        ("import.csv", 2): "ML_USE 'VALIDATE' must be one of TRAIN, TEST, UNASSIGNED",
    }
    assert set(failures) == set(expected)
    for key, message in expected.items():
        assert failures[key].startswith(message), (key, failures[key])
    assert (result.imported_rows, result.failed_rows) == (2, len(expected))
    assert boxes_of(str(tmp_path / "dataset"), v) == [("car", 1, 0.1, pytest.approx((0.1, 0.1, 0.2, 0.2)))]


def test_a_frame_holds_at_most_500_boxes(tracking_media, tmp_path):
    v = tracking_media["ten"]
    rows = [f"{v},dot,,0.5,{i / 1000:.3f},.1,,,{i / 1000 + 0.001:.3f},.2,," for i in range(MAX_BOXES_PER_FRAME + 1)]
    rows.append(f"{v},dot,,0.6,.1,.1,,,.2,.2,,")  # another frame is fine
    top = write_import(tmp_path / "csvs", [("UNASSIGNED", rows)])
    result = import_data([top], str(tmp_path / "dataset"), prediction_type="object_tracking")
    assert (result.imported_rows, result.failed_rows) == (MAX_BOXES_PER_FRAME + 1, 1)
    assert failure_messages(result) == {
        (
            "unassigned_0.csv",
            MAX_BOXES_PER_FRAME + 1,
        ): "the frame at 0.5 s already has 500 boxes (at most 500 per frame)"
    }


def test_too_many_failures_import_nothing_and_leave_the_dataset_as_it_was(tracking_media, tmp_path):
    v = tracking_media["ten"]
    dataset_uri = str(tmp_path / "dataset")
    import_data(
        [write_import(tmp_path / "first", [("TRAIN", [f"{v},car,1,0,.1,.1,,,.2,.2,,"])])],
        dataset_uri,
        prediction_type="object_tracking",
    )
    before = storage.read_bytes(ds.dataset_file(dataset_uri))
    bad = [f"{v},car,1,0.1,.1,.1,,,.2,.2,,", f"{v},car,1,nope,.1,.1,,,.2,.2,,", f"{v},car,1,0.3,.5,.5,,,.4,.4,,"]
    with pytest.raises(ImportFailed, match="2 of 4 rows failed .* nothing imported"):
        import_data(
            [write_import(tmp_path / "second", [("TEST", bad)])], dataset_uri, prediction_type="object_tracking"
        )
    assert storage.read_bytes(ds.dataset_file(dataset_uri)) == before


def test_same_content_under_two_uris_merges_and_an_append_snaps_to_frames_too(tracking_media, tmp_path):
    ten, copy = tracking_media["ten"], tracking_media["copy"]
    dataset_uri = str(tmp_path / "dataset")
    first = [f"{ten},car,1,0.5,.1,.1,,,.2,.2,,", f"{copy},car,2,0.5,.5,.5,,,.7,.7,,"]
    import_data([write_import(tmp_path / "first", [("TRAIN", first)])], dataset_uri, prediction_type="object_tracking")
    # Appending to a known video: its frame rate is probed again, so 0.74 s still snaps to 0.7 s.
    second = [f"{copy},car,1,0.74,.1,.1,,,.2,.2,,", f"{ten},car,1,0.5,.1,.1,,,.2,.2,,"]
    result = import_data(
        [write_import(tmp_path / "second", [("TEST", second)])], dataset_uri, prediction_type="object_tracking"
    )
    assert (result.imported_rows, result.failed_rows, result.videos_added) == (2, 0, 0)
    [video] = ds.load(dataset_uri).videos
    assert sorted(video.uris) == sorted([ten, copy]) and video.ml_use == "TEST"
    assert sorted((b.instance_id, b.time) for b in video.annotations) == [(1, 0.5), (1, 0.7), (2, 0.5)]
    with pytest.raises(ds.DatasetError, match="is a object_tracking dataset; import classification rows"):
        import_data([write_import(tmp_path / "third", [("TRAIN", [f"{ten},car,0,1"])])], dataset_uri)


def test_vertex_jsonl_boxes_in_both_spellings_and_videos_not_yet_labelled(tracking_media, tmp_path):
    v, ten = tracking_media["thirty"], tracking_media["ten"]
    lines = [
        {
            "videoGcsUri": v,
            "temporalBoundingBoxAnnotations": [
                {
                    "displayName": "car",
                    "xMin": 0.1,
                    "xMax": 0.4,
                    "yMin": 0.2,
                    "yMax": 0.6,
                    "timeOffset": "0.5s",
                    "instanceId": 3,
                },
                {
                    "displayName": "bike",
                    "xMin": 0.5,
                    "xMax": 0.6,
                    "yMin": 0.5,
                    "yMax": 0.6,
                    "timeOffset": "1.0333s",
                    "instanceId": -1,
                },
            ],
            "dataItemResourceLabels": {"aiplatform.googleapis.com/ml_use": "test"},
        },
        {
            "video_gcs_uri": v,
            "temporal_bounding_box_annotations": [
                {
                    "display_name": "car",
                    "x_min": 0.2,
                    "x_max": 0.5,
                    "y_min": 0.2,
                    "y_max": 0.6,
                    "time_offset": 0.6,
                    "instance_id": "3",
                }
            ],
        },
        {"videoGcsUri": ten, "dataItemResourceLabels": {"ml_use": "validation"}},  # not yet labelled
        {
            "videoGcsUri": v,
            "temporalBoundingBoxAnnotations": [
                {"displayName": "car", "xMin": 0.5, "xMax": 0.4, "yMin": 0.1, "yMax": 0.2, "timeOffset": "1s"}
            ],
        },
        {
            "videoGcsUri": v,
            "temporalBoundingBoxAnnotations": [
                {"displayName": "car", "xMin": 0.1, "xMax": 0.4, "yMin": 0.1, "yMax": 0.2}
            ],
        },
        {
            "videoGcsUri": v,
            "temporalBoundingBoxAnnotations": [
                {
                    "displayName": "car",
                    "xMin": 0.1,
                    "xMax": 0.4,
                    "yMin": 0.1,
                    "yMax": 0.2,
                    "timeOffset": "1s",
                    "instanceId": 0,
                }
            ],
        },
        {"videoGcsUri": v, "temporalBoundingBoxAnnotations": {"displayName": "car"}},
        {
            "videoGcsUri": v,
            "temporalBoundingBoxAnnotations": [
                {"displayName": "car", "xMin": "left", "xMax": 0.4, "yMin": 0.1, "yMax": 0.2, "timeOffset": "1s"}
            ],
        },
    ]
    source = tmp_path / "import.jsonl"
    source.write_text("".join(json.dumps(line) + "\n" for line in lines))
    dataset_uri = str(tmp_path / "dataset")
    result = import_data([str(source)], dataset_uri, max_error_fraction=1.0, prediction_type="object_tracking")
    assert failure_messages(result) == {
        ("import.jsonl", 4): "temporalBoundingBoxAnnotations[0]: BOUNDING_BOX 0.5,0.1 to 0.4,0.2 has no area",
        (
            "import.jsonl",
            5,
        ): "temporalBoundingBoxAnnotations[0]: 'timeOffset' is missing (the frame's time, e.g. '1.5s')",
        (
            "import.jsonl",
            6,
        ): "temporalBoundingBoxAnnotations[0]: 'instanceId' 0 must be a positive integer, or -1 for none",
        ("import.jsonl", 7): "'temporalBoundingBoxAnnotations' must be a list of boxes",
        ("import.jsonl", 8): "temporalBoundingBoxAnnotations[0]: xMin 'left' is not a number",
    }
    assert boxes_of(dataset_uri, v) == [
        ("bike", 0, round(31 / 30, 6), pytest.approx((0.5, 0.5, 0.6, 0.6))),
        ("car", 3, 0.5, pytest.approx((0.1, 0.2, 0.4, 0.6))),
        ("car", 3, 0.6, pytest.approx((0.2, 0.2, 0.5, 0.6))),
    ]
    videos = {video.uri: video for video in ds.load(dataset_uri).videos}
    assert videos[v].ml_use == "TEST" and videos[ten].ml_use == "VALIDATION" and videos[ten].annotations == []


def test_cli_import_with_the_prediction_type(tracking_synth, tmp_path, capsys):
    from automl_video import cli

    status = cli.main(
        [
            "dataset",
            "import",
            "--source",
            tracking_synth.import_csv,
            "--dataset",
            str(tmp_path / "d"),
            "--prediction-type",
            "object_tracking",
            "--json",
        ]
    )
    assert status in (0, None)
    doc = json.loads(capsys.readouterr().out)
    assert doc["prediction_type"] == "object_tracking" and doc["failed_rows"] == 0
    assert doc["videos_added"] == len(tracking_synth.videos)


def test_the_synthetic_csv_and_jsonl_import_alike_and_split_stably_by_video(tracking_synth, tmp_path):
    from automl_video.data import splits

    def imported(source: str, name: str) -> str:
        uri = str(tmp_path / name)
        import_data([source], uri, prediction_type="object_tracking")
        return uri

    from_csv, from_jsonl = imported(tracking_synth.import_csv, "csv"), imported(tracking_synth.import_jsonl, "jsonl")

    def content(uri: str) -> list:
        return sorted((v.content_hash, v.ml_use, sorted(b.key() for b in v.annotations)) for v in ds.load(uri).videos)

    assert content(from_csv) == content(from_jsonl)
    truth = {
        (uri, time, label, instance)
        for uri, boxes in tracking_synth.boxes.items()
        for time, label, instance, _ in boxes
    }
    imported_boxes = {(v.uri, b.time, b.label, b.instance_id) for v in ds.load(from_csv).videos for b in v.annotations}
    assert imported_boxes == truth
    first = splits.split_dataset(from_csv, seed=2)
    assert first.counts["TEST"].videos >= 1 and first.counts["TRAIN"].videos >= 1
    dataset = ds.load(from_csv)
    assert all(v.split == "TEST" for v in dataset.videos if v.ml_use == "TEST")
    assert all(v.split in ("TRAIN", "VALIDATION") for v in dataset.videos if v.ml_use == "TRAIN")
    before = {v.video_id: v.split for v in dataset.videos}
    splits.split_dataset(from_csv)  # again, same settings: nothing moves
    assert {v.video_id: v.split for v in ds.load(from_csv).videos} == before

"""Action recognition import on real generated videos: Vertex JSONL and CSV, two-level CSVs, the row
errors, all or nothing, content-hash merge, the dataset's prediction type, and the split."""

import json
import shutil

import pytest

from automl_video import cli
from automl_video.data import dataset as ds
from automl_video.data import describe, splits
from automl_video.data.dataset import DatasetError
from automl_video.data.importer import ImportFailed, import_data
from automl_video.tasks.action_recognition.annotations import ActionAnnotation

AR = "action_recognition"


@pytest.fixture(scope="module")
def two_videos(action_synth):
    return action_synth.videos[0], action_synth.videos[1]


def annotations_of(dataset_uri: str) -> dict[str, list[tuple[str, float, float]]]:
    return {v.uri: sorted((a.label, a.start, a.end) for a in v.annotations) for v in ds.load(dataset_uri).videos}


def test_synthetic_jsonl_and_two_level_csv_import_the_same_dataset(action_synth, tmp_path):
    from_jsonl, from_csv = str(tmp_path / "jsonl"), str(tmp_path / "csv")
    jsonl = import_data([action_synth.import_jsonl], from_jsonl, prediction_type=AR)
    csv = import_data([action_synth.import_csv], from_csv, prediction_type=AR)
    assert (jsonl.failed_rows, csv.failed_rows) == (0, 0)
    assert annotations_of(from_jsonl) == annotations_of(from_csv)
    first, second = ds.load(from_jsonl), ds.load(from_csv)
    assert first.prediction_type == second.prediction_type == AR
    assert {v.uri: v.ml_use for v in first.videos} == {v.uri: v.ml_use for v in second.videos}
    assert {v.ml_use for v in first.videos} == {"TRAIN", "TEST", "UNASSIGNED"}
    assert first.label_names() == ["jump", "spin"]
    for video in first.videos:
        stretches = [a for a in video.annotations if a.is_stretch]
        actions = [a for a in video.annotations if not a.is_stretch]
        assert [(s.start, s.end) for s in stretches] == [(0.0, video.duration)]  # inf END: the video's end
        assert actions and all(a.start == a.end and 0.5 <= a.time <= video.duration - 0.5 for a in actions)
    summary = describe.describe(from_jsonl)
    assert [(s.display_name, s.example_count) for s in summary.annotation_specs] == [
        (name, sum(a.label == name for v in first.videos for a in v.annotations)) for name in ("jump", "spin")
    ]


def test_vertex_jsonl_moments_segments_stretches_and_ml_use(two_videos, tmp_path):
    first, second = two_videos
    lines = [
        {
            "videoGcsUri": first,
            "timeSegments": [{"startTime": "0.5s", "endTime": "2.5s"}],
            "timeSegmentAnnotations": [
                {"displayName": "jump", "startTime": "1.2s", "endTime": "1.2s"},  # a moment
                {"displayName": "spin", "startTime": 1.5},  # no endTime: a moment
                {"displayName": "spin", "startTime": "2s", "endTime": "2.75s"},  # a segment
            ],
            "dataItemResourceLabels": {"aiplatform.googleapis.com/ml_use": "validation"},
        },
        {
            "video_gcs_uri": second,
            "time_segments": [{}],  # the whole video, with no action: all background
            "dataItemResourceLabels": {"ml_use": "test"},
        },
    ]
    source = tmp_path / "import.jsonl"
    source.write_text("".join(json.dumps(line) + "\n" for line in lines))
    result = import_data([str(source)], str(tmp_path / "dataset"), prediction_type=AR)
    assert (result.imported_rows, result.failed_rows, result.annotations_added) == (5, 0, 5)
    dataset = ds.load(str(tmp_path / "dataset"))
    videos = {v.uri: v for v in dataset.videos}
    assert (videos[first].ml_use, videos[second].ml_use) == ("VALIDATION", "TEST")
    assert annotations_of(str(tmp_path / "dataset"))[first] == [
        ("", 0.5, 2.5),
        ("jump", 1.2, 1.2),
        ("spin", 1.5, 1.5),
        ("spin", 2.0, 2.75),
    ]
    assert annotations_of(str(tmp_path / "dataset"))[second] == [("", 0.0, videos[second].duration)]
    assert videos[second].labels() == set()


def test_csv_rows_and_their_errors_name_file_row_and_reason(two_videos, tmp_path):
    first, second = two_videos
    rows = [
        f"{first},,0,inf",  # 1: fully annotated stretch
        f"{first},jump,1.25,1.25",  # 2: moment
        f"{first},spin,2,2.5",  # 3: segment
        f"{first},jump,2,1",  # 4
        f"{first},,1,1",  # 5: a stretch of no time
        f"{first},jump!,1,1",  # 6
        f"{first},jump,abc,1",  # 7
        f"{first},jump,9,9",  # 8: after the 3 s video
        f"{first},jump,1",  # 9
        f"{first},jump,inf,inf",  # 10
        f"{second},spin,-1,-1",  # 11
    ]
    (tmp_path / "rows.csv").write_text("".join(r + "\n" for r in rows))
    (tmp_path / "import.csv").write_text(f"TRAIN,{tmp_path / 'rows.csv'}\n")
    result = import_data(
        [str(tmp_path / "import.csv")], str(tmp_path / "dataset"), max_error_fraction=1.0, prediction_type=AR
    )
    reasons = {f.row: f.message for f in result.partial_failures}
    assert all(f.uri == str(tmp_path / "rows.csv") for f in result.partial_failures)
    assert sorted(reasons) == [4, 5, 6, 7, 8, 9, 10, 11]
    assert "END 1 is before START 2" in reasons[4]
    assert "fully annotated stretch (no LABEL) needs START 1 before END 1" in reasons[5]
    assert "label 'jump!' must be 1-32 characters" in reasons[6]
    assert "START: 'abc' is not a number" in reasons[7]
    assert "the moment is after the end of video" in reasons[8]
    assert "expected 4 columns" in reasons[9]
    assert "START inf is not a finite time" in reasons[10]
    assert "START -1 is negative" in reasons[11]
    assert annotations_of(str(tmp_path / "dataset"))[first] == [
        ("", 0.0, pytest.approx(3.0, abs=0.1)),
        ("jump", 1.25, 1.25),
        ("spin", 2.0, 2.5),
    ]


def test_jsonl_line_errors(two_videos, tmp_path):
    first, _ = two_videos
    lines = [
        json.dumps({"videoGcsUri": first}),
        json.dumps({"videoGcsUri": first, "timeSegmentAnnotations": [{"displayName": "jump"}]}),
        json.dumps({"videoGcsUri": first, "timeSegmentAnnotations": {"displayName": "jump"}}),
        json.dumps({"videoGcsUri": first, "timeSegments": [{"startTime": "2s", "endTime": "1s"}]}),
        json.dumps({"videoGcsUri": first, "timeSegmentAnnotations": [{"displayName": "jump", "startTime": "1x"}]}),
        json.dumps({"videoGcsUri": first, "timeSegmentAnnotations": [{"startTime": "1s"}]}),
        json.dumps({"videoGcsUri": first, "timeSegments": [{}], "dataItemResourceLabels": {"ml_use": "holdout"}}),
        json.dumps({"videoGcsUri": first, "timeSegmentAnnotations": [{"displayName": "jump", "startTime": "1s"}]}),
    ]
    source = tmp_path / "bad.jsonl"
    source.write_text("\n".join(lines) + "\n")
    with pytest.raises(ImportFailed) as refused:
        import_data([str(source)], str(tmp_path / "dataset"), prediction_type=AR)
    reasons = {f.row: f.message for f in refused.value.failures}
    assert sorted(reasons) == [1, 2, 3, 4, 5, 6, 7]
    assert "lists no annotation" in reasons[1]
    assert "timeSegmentAnnotations[0]: 'startTime' is missing" in reasons[2]
    assert "'timeSegmentAnnotations' must be a list" in reasons[3]
    assert "timeSegments[0]: END 1s is before START 2s" in reasons[4]
    assert "timeSegmentAnnotations[0]: '1x' is not a duration" in reasons[5]
    assert "'displayName' is missing" in reasons[6]
    assert "ml_use 'holdout' must be one of" in reasons[7]
    assert "7 of 8 rows failed" in str(refused.value) and "nothing imported" in str(refused.value)
    assert not ds.exists(str(tmp_path / "dataset"))  # all or nothing


def test_merge_by_content_hash_and_the_prediction_type_stays(two_videos, tmp_path):
    first, _ = two_videos
    copy = tmp_path / "copy.mp4"
    shutil.copyfile(first, copy)
    source = tmp_path / "a.csv"
    source.write_text(f"{first},jump,1,1\n{copy},spin,2,2\n{copy},jump,1,1\n")
    dataset_uri = str(tmp_path / "dataset")
    result = import_data([str(source)], dataset_uri, prediction_type=AR)
    assert (result.videos_added, result.annotations_added) == (1, 2)
    assert any("duplicate rows" in note for note in result.notes)
    assert any("the same content under 2 URIs" in note for note in result.notes)
    with pytest.raises(DatasetError, match="is a action_recognition dataset; import classification rows"):
        import_data([str(source)], dataset_uri)  # classification, the default
    with pytest.raises(DatasetError, match="is a classification dataset"):
        other = str(tmp_path / "classification")
        (tmp_path / "c.csv").write_text(f"{first},jump,0,1\n")
        import_data([str(tmp_path / "c.csv")], other)
        import_data([str(source)], other, prediction_type=AR)


def test_stable_stratified_video_level_split(action_synth, tmp_path):
    dataset_uri = str(tmp_path / "dataset")
    import_data([action_synth.import_jsonl], dataset_uri, prediction_type=AR)
    first = splits.split_dataset(dataset_uri, seed=1)
    assignment = {v.video_id: v.split for v in ds.load(dataset_uri).videos}
    again = splits.split_dataset(dataset_uri, seed=1)
    assert {v.video_id: v.split for v in ds.load(dataset_uri).videos} == assignment
    assert first.counts == again.counts and again.videos_moved == 0
    dataset = ds.load(dataset_uri)
    for video in dataset.videos:
        if video.ml_use == "TEST":
            assert video.split == "TEST"
        if video.ml_use == "TRAIN":
            assert video.split in ("TRAIN", "VALIDATION")
    for label in dataset.label_names():  # stratified: each label is in TRAIN and TEST
        assert {v.split for v in dataset.videos if label in v.labels()} >= {"TRAIN", "TEST"}


def test_cli_import_with_the_prediction_type(action_synth, tmp_path, capsys):
    dataset_uri = str(tmp_path / "dataset")
    code = cli.main(
        [
            "dataset",
            "import",
            "--source",
            action_synth.import_jsonl,
            "--dataset",
            dataset_uri,
            "--prediction-type",
            AR,
            "--json",
        ]
    )
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["prediction_type"] == AR and doc["failed_rows"] == 0
    annotation = ds.load(dataset_uri).videos[0].annotations[0]
    assert isinstance(annotation, ActionAnnotation)

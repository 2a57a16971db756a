"""Vertex import files (one-level CSV and JSONL) for classification, on real generated videos."""

import json

import pytest

from automl_video.data import dataset as ds
from automl_video.data import splits
from automl_video.data.importer import ImportFailed, import_data


@pytest.fixture(scope="module")
def two_videos(synth_small):
    return synth_small.videos[0], synth_small.videos[1]


def test_vertex_csv_rows_with_and_without_ml_use(two_videos, tmp_path):
    first, second = two_videos
    source = tmp_path / "vertex.csv"
    source.write_text(
        f"training,{first},walk,0,1\n"
        f"TEST,{second},run,0.5,Infinity\n"  # ML_USE in any case; END Infinity
        f"{second},walk,0,inf\n"  # no ML_USE: UNASSIGNED (the video is TEST by its other row)
        f"validation,{first},run,1,2\n"
    )
    result = import_data([str(source)], str(tmp_path / "dataset"))
    assert (result.imported_rows, result.failed_rows) == (4, 0)
    videos = {v.uri: v for v in ds.load(str(tmp_path / "dataset")).videos}
    assert videos[first].ml_use == "VALIDATION"  # VALIDATION > TRAIN: the stricter use wins
    assert videos[second].ml_use == "TEST"
    assert sorted((a.label, a.start, a.end) for a in videos[second].annotations) == [
        ("run", 0.5, videos[second].duration),
        ("walk", 0.0, videos[second].duration),
    ]


def test_vertex_jsonl_with_both_ml_use_label_keys_and_both_time_forms(two_videos, tmp_path):
    first, second = two_videos
    lines = [
        {
            "videoGcsUri": first,
            "timeSegmentAnnotations": [
                {"displayName": "walk", "startTime": "0s", "endTime": "1.5s"},
                {"displayName": "run", "startTime": 1.5, "endTime": "Infinity"},
            ],
            "dataItemResourceLabels": {"aiplatform.googleapis.com/ml_use": "training"},
        },
        {
            "video_gcs_uri": second,
            "time_segment_annotations": [{"display_name": "walk"}],  # whole video
            "dataItemResourceLabels": {"ml_use": "test"},
        },
    ]
    source = tmp_path / "import.jsonl"
    source.write_text("".join(json.dumps(line) + "\n" for line in lines))
    result = import_data([str(source)], str(tmp_path / "dataset"))
    assert (result.imported_rows, result.failed_rows) == (3, 0)
    dataset = ds.load(str(tmp_path / "dataset"))
    videos = {v.uri: v for v in dataset.videos}
    assert videos[first].ml_use == "TRAIN" and videos[second].ml_use == "TEST"
    assert [(a.label, a.start, a.end) for a in videos[first].annotations] == [
        ("walk", 0.0, 1.5),
        ("run", 1.5, videos[first].duration),
    ]
    assert [(a.label, a.start, a.end) for a in videos[second].annotations] == [("walk", 0.0, videos[second].duration)]
    assert [a.source_row for a in videos[first].annotations] == [1, 1]


def test_bad_vertex_rows_name_the_file_line_and_reason(two_videos, tmp_path):
    first, _ = two_videos
    source = tmp_path / "bad.jsonl"
    source.write_text(
        "\n".join(
            [
                json.dumps({"videoGcsUri": first, "timeSegmentAnnotations": [{"displayName": "ok", "endTime": "1s"}]}),
                "{not json",
                json.dumps(["a list"]),
                json.dumps({"timeSegmentAnnotations": []}),
                json.dumps({"videoGcsUri": first, "timeSegmentAnnotations": []}),
                json.dumps({"videoGcsUri": first, "timeSegmentAnnotations": [{"displayName": "bad label!"}]}),
                json.dumps(
                    {"videoGcsUri": first, "timeSegmentAnnotations": [{"displayName": "x", "startTime": "soon"}]}
                ),
                json.dumps(
                    {
                        "videoGcsUri": first,
                        "timeSegmentAnnotations": [{"displayName": "x"}],
                        "dataItemResourceLabels": {"ml_use": "holdout"},
                    }
                ),
                json.dumps(
                    {
                        "videoGcsUri": first,
                        "timeSegmentAnnotations": [{"displayName": "x", "startTime": 2, "endTime": 1}],
                    }
                ),
            ]
        )
        + "\n"
    )
    with pytest.raises(ImportFailed) as refused:
        import_data([str(source)], str(tmp_path / "dataset"), max_error_fraction=0.5)
    messages = {f.row: f.message for f in refused.value.failures}
    assert all(f.uri == str(source) for f in refused.value.failures)
    assert messages[2].startswith("not valid JSON")
    assert messages[3] == "a line must be a JSON object with a 'videoGcsUri'"
    assert messages[4] == "'videoGcsUri' (the video URI) is missing or not a string"
    assert messages[5].startswith("'timeSegmentAnnotations' is missing or empty")
    assert "label 'bad label!' must be 1-32 characters" in messages[6]
    assert messages[7].startswith("timeSegmentAnnotations[0]: 'soon' is not a duration")
    assert messages[8] == "ml_use 'holdout' must be one of training, validation, test"
    assert messages[9] == "START 2 must be before END 1"
    assert 1 not in messages and not ds.exists(str(tmp_path / "dataset"))  # refused: nothing imported


def test_vertex_validation_videos_stay_in_validation(synth_small, tmp_path):
    lines = [
        {
            "videoGcsUri": uri,
            "timeSegmentAnnotations": [{"displayName": "move"}],
            "dataItemResourceLabels": {"ml_use": "validation" if index < 3 else "training"},
        }
        for index, uri in enumerate(synth_small.videos[:12])
    ]
    source = tmp_path / "import.jsonl"
    source.write_text("".join(json.dumps(line) + "\n" for line in lines))
    uri = str(tmp_path / "dataset")
    import_data([str(source)], uri)
    splits.split_dataset(uri)
    dataset = ds.load(uri)
    for video in dataset.videos:
        if video.ml_use == "VALIDATION":
            assert video.split == "VALIDATION"
        else:
            assert video.split in ("TRAIN", "VALIDATION")  # the training pool, split 70/30
    assert sum(v.split == "VALIDATION" for v in dataset.videos) >= 3

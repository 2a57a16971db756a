"""The serving gate: promotion only when at least as good, the kept versions, and serving.json."""

import json

import pytest

from automl_video import storage
from automl_video.errors import AutoMLVideoError
from automl_video.serving import (
    SERVING_POINTER,
    PreviousServing,
    ServingPointer,
    promote_if_better,
    read_serving_pointer,
    write_serving_pointer,
)

# serving.json as the gate wrote it before ServingPointer existed (pipeline_runner.promote_if_better,
# storage.write_json): a serving root promoted twice.
OLD_POINTER = """{
  "model_uri": "gs://bucket/serving/current",
  "version_uri": "gs://bucket/serving/versions/20260105T020311Z-4f2a9c",
  "source_model_uri": "gs://bucket/root/run-2/train-model/model",
  "model_display_name": "motions",
  "au_prc": 0.8125,
  "promoted_at": "2026-01-05T02:03:11.482Z",
  "previous": {
    "version_uri": "gs://bucket/serving/versions/20260104T020207Z-09b1de",
    "au_prc": 0.75,
    "promoted_at": "2026-01-04T02:02:07.113Z"
  }
}
"""


def make_model(folder, marker: str) -> str:
    """A model folder as the gate sees it: files to copy (the gate never opens the weights)."""
    storage.write_json(storage.join(str(folder), "model.json"), {"marker": marker})
    storage.write_bytes(storage.join(str(folder), "weights.weights.h5"), marker.encode() * 100)
    return str(folder)


@pytest.mark.parametrize("where", ["local", "gcs"])
def test_gate_promotes_only_a_model_at_least_as_good(tmp_path, request, where):
    root = str(tmp_path / "serving") if where == "local" else request.getfixturevalue("gcs_bucket") + "/serving"
    first = promote_if_better(make_model(tmp_path / "m1", "first"), 0.70, root, "motions")
    assert first.promoted and first.previous_au_prc is None
    current = storage.join(root, "current")
    assert first.serving_model_uri == current
    assert storage.read_json(storage.join(current, "model.json")) == {"marker": "first"}
    assert storage.is_published(current) and storage.is_published(first.version_uri)

    worse = promote_if_better(make_model(tmp_path / "m2", "worse"), 0.69, root)
    assert not worse.promoted and worse.previous_au_prc == 0.70 and "below" in worse.reason
    assert storage.read_json(storage.join(current, "model.json")) == {"marker": "first"}
    assert read_serving_pointer(root).au_prc == 0.70

    tie = promote_if_better(make_model(tmp_path / "m3", "tie"), 0.70, root, source_uri="gs://runs/m3")
    assert tie.promoted
    assert storage.read_json(storage.join(current, "model.json")) == {"marker": "tie"}
    pointer = read_serving_pointer(root)
    assert pointer.source_model_uri == "gs://runs/m3" and pointer.previous.au_prc == 0.70
    assert pointer.version_uri == tie.version_uri != first.version_uri
    assert storage.read_json(storage.join(first.version_uri, "model.json")) == {"marker": "first"}


def test_gate_refuses_a_broken_pointer(tmp_path):
    storage.write_text(str(tmp_path / SERVING_POINTER), "{not json")
    with pytest.raises(AutoMLVideoError, match=rf"{SERVING_POINTER}: not a valid serving pointer"):
        promote_if_better(make_model(tmp_path / "m", "x"), 0.5, str(tmp_path))


def test_a_pointer_without_a_numeric_au_prc_is_refused_naming_the_file(tmp_path):
    storage.write_json(str(tmp_path / SERVING_POINTER), {"model_uri": "x", "au_prc": "high"})
    with pytest.raises(
        AutoMLVideoError, match=rf"{tmp_path / SERVING_POINTER}: not a valid serving pointer .*fix or remove it"
    ):
        read_serving_pointer(str(tmp_path))


def test_a_pointer_written_before_the_typed_one_still_reads_and_writes_back_byte_for_byte(tmp_path):
    root = str(tmp_path / "serving")
    storage.write_text(storage.join(root, SERVING_POINTER), OLD_POINTER)
    pointer = read_serving_pointer(root)
    assert pointer == ServingPointer(
        model_uri="gs://bucket/serving/current",
        version_uri="gs://bucket/serving/versions/20260105T020311Z-4f2a9c",
        source_model_uri="gs://bucket/root/run-2/train-model/model",
        model_display_name="motions",
        au_prc=0.8125,
        promoted_at="2026-01-05T02:03:11.482Z",
        previous=PreviousServing(
            "gs://bucket/serving/versions/20260104T020207Z-09b1de", 0.75, "2026-01-04T02:02:07.113Z"
        ),
    )
    rewritten = str(tmp_path / "rewritten")
    write_serving_pointer(rewritten, pointer)
    assert storage.read_text(storage.join(rewritten, SERVING_POINTER)) == OLD_POINTER


def test_the_gate_compares_against_an_old_pointer_and_records_it_as_previous(tmp_path):
    root = str(tmp_path / "serving")
    storage.write_text(storage.join(root, SERVING_POINTER), OLD_POINTER)
    assert not promote_if_better(make_model(tmp_path / "m1", "worse"), 0.8, root).promoted
    better = promote_if_better(make_model(tmp_path / "m2", "better"), 0.9, root, "motions-v3")
    assert better.promoted and better.previous_au_prc == 0.8125
    written = json.loads(storage.read_text(storage.join(root, SERVING_POINTER)))
    assert list(written) == list(json.loads(OLD_POINTER))  # same keys, same order
    assert written["previous"] == {
        "version_uri": "gs://bucket/serving/versions/20260105T020311Z-4f2a9c",
        "au_prc": 0.8125,
        "promoted_at": "2026-01-05T02:03:11.482Z",
    }


def test_a_hand_edited_pointer_needs_only_its_au_prc(tmp_path):
    """Operators roll back by editing serving.json; the gate has always required only the AU-PRC."""
    storage.write_json(str(tmp_path / SERVING_POINTER), {"au_prc": 0.6})
    pointer = read_serving_pointer(str(tmp_path))
    assert pointer.au_prc == 0.6 and pointer.version_uri == "" and pointer.previous is None
    kept = promote_if_better(make_model(tmp_path / "m", "worse"), 0.5, str(tmp_path))
    assert not kept.promoted and kept.version_uri == ""


def test_the_pointer_names_the_evaluation_the_gate_used_and_no_root_turns_the_gate_off(tmp_path):
    model = make_model(tmp_path / "m", "x")
    off = promote_if_better(model, 0.9, "")
    assert not off.promoted and off.pointer_uri == "" and off.reason == "no serving root given: the gate is off"
    evaluations = "gs://bucket/root/run-1/evaluate-model/evaluation/evaluations.json"
    promote_if_better(model, 0.9, str(tmp_path / "serving"), evaluations_uri=evaluations)
    pointer = read_serving_pointer(str(tmp_path / "serving"))
    assert pointer.evaluations_uri == evaluations
    assert list(storage.read_json(str(tmp_path / "serving" / SERVING_POINTER)))[-1] == "evaluations_uri"

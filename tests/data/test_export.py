"""ExportData's library side: a dataset written back as AutoML CSVs imports again into the same dataset;
and the URI guard import consults refuses rows without reading what they name."""

import csv

import pytest

from automl_video import storage
from automl_video.data import dataset as dataset_lib
from automl_video.data import importer
from automl_video.data.export import TOP_LEVEL_FILE, export_automl_csv
from automl_video.data.import_files import ImportFailed


def facts(dataset_uri: str) -> tuple[list[str], set[tuple]]:
    dataset = dataset_lib.load(dataset_uri)
    rows = {(v.uri, v.ml_use.value, a.label, a.start, a.end) for v in dataset.videos for a in v.annotations}
    return sorted(dataset.label_names()), rows


def test_an_exported_dataset_imports_again_into_the_same_dataset(synth_small, tmp_path):
    original = str(tmp_path / "original")
    importer.import_data([synth_small.import_csv], original)
    exported = export_automl_csv(original, str(tmp_path / "export"))
    with open(exported.top_level_uri) as f:
        listed = list(csv.reader(f))
    assert exported.top_level_uri.endswith(TOP_LEVEL_FILE)
    assert [row[0] for row in listed] == list(exported.csv_uris) and set(exported.csv_uris) <= {
        "TRAIN",
        "TEST",
        "UNASSIGNED",
    }
    copy = str(tmp_path / "copy")
    importer.import_data([exported.top_level_uri], copy)
    assert facts(copy) == facts(original)
    assert exported.rows == sum(len(v.annotations) for v in dataset_lib.load(original).videos)


def test_the_guard_fails_rows_before_anything_is_read(synth_small, tmp_path):
    asked = []

    def guard(uri: str) -> None:
        asked.append(uri)
        if "forbidden" in uri:
            raise PermissionError(f"{uri} is outside the allowed roots")

    rows = tmp_path / "rows.csv"
    good = synth_small.videos[0]
    rows.write_text(
        f"/forbidden/missing.mp4,{synth_small.class_names[0]},0,inf\n{good},{synth_small.class_names[0]},0,inf\n"
    )
    top = tmp_path / "top.csv"
    top.write_text(f"TRAIN,{rows}\nTRAIN,/forbidden/listed.csv\n")
    result = importer.import_data([str(top)], str(tmp_path / "d"), max_error_fraction=1.0, guard=guard)
    messages = sorted(f.message for f in result.partial_failures)
    assert messages == [
        "/forbidden/listed.csv is outside the allowed roots",
        "/forbidden/missing.mp4 is outside the allowed roots",
    ]
    assert result.imported_rows == 1 and "/forbidden/missing.mp4" in asked
    with pytest.raises(ImportFailed, match="outside the allowed roots; nothing imported"):
        importer.import_data(["/forbidden/top.csv"], str(tmp_path / "e"), guard=guard)
    assert not storage.exists(str(tmp_path / "e" / "dataset.json"))

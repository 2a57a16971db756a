"""Import sources resolved at run time: prefixes (only top-level import CSVs), globs, plain URIs."""

import os
import shutil

import pytest

from automl_video import storage
from automl_video.data.sources import expand_sources


def test_prefix_finds_only_top_level_import_csvs(synth_small, tmp_path):
    data_dir = os.path.dirname(synth_small.import_csv)
    assert expand_sources([data_dir + "/"]) == [synth_small.import_csv]
    # A CSV dropped later under the prefix (in a sub-folder too) is found by the next expansion.
    later = tmp_path / "imports"
    shutil.copytree(data_dir, later / "batch-2", ignore=shutil.ignore_patterns("videos"))
    shutil.copy(synth_small.import_csv, later / "first.csv")
    assert expand_sources([str(later) + "/"]) == [str(later / "batch-2" / "import.csv"), str(later / "first.csv")]


def test_globs_and_plain_uris(synth_small):
    data_dir = os.path.dirname(synth_small.import_csv)
    globbed = expand_sources([data_dir + "/*.csv", synth_small.import_csv])
    assert globbed == sorted([*synth_small.csvs.values(), synth_small.import_csv])  # listed once
    assert expand_sources(["gs://bucket/one.csv"]) == ["gs://bucket/one.csv"]  # taken as given
    with pytest.raises(FileNotFoundError, match=r"nowhere/\*\.csv: no file matches this pattern"):
        expand_sources([data_dir + "/nowhere/*.csv"])


def test_prefix_on_an_object_store(synth_small, gcs_bucket):
    storage.write_text(f"{gcs_bucket}/imports/a/import.csv", storage.read_text(synth_small.import_csv))
    storage.write_text(f"{gcs_bucket}/imports/train.csv", storage.read_text(synth_small.csvs["TRAIN"]))
    assert expand_sources([f"{gcs_bucket}/imports/"]) == [f"{gcs_bucket}/imports/a/import.csv"]

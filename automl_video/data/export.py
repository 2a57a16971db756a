"""Export a dataset as AutoML import CSVs (v1beta1 ``ExportData``): one second-level CSV per ML_USE and
a top-level ``ML_USE,CSV_URI`` file listing them, which import again into the same dataset (same videos,
annotations and ML_USE; the split is redone by the next training).

VALIDATION videos (a Vertex import's) are written as TRAIN: AutoML's top-level CSV has no VALIDATION, and
AutoML holds validation videos out of TRAIN itself. Each file is written atomically; the top-level file
last, so a reader that finds it finds every file it lists.
"""

from dataclasses import dataclass

from automl_video import storage
from automl_video.data import dataset as dataset_lib
from automl_video.data.dataset import AUTOML_CSV_ML_USES, MLUse
from automl_video.tasks import get_task

TOP_LEVEL_FILE = "dataset.csv"


@dataclass(frozen=True)
class DatasetExport:
    """Where the export went: the top-level CSV and the CSV of each ML_USE (by ML_USE)."""

    output_uri: str
    top_level_uri: str
    csv_uris: dict[str, str]
    rows: int


def _csv_line(fields: list[str]) -> str:
    """One CSV line; fields with a comma or quote are quoted as RFC 4180 says."""
    quoted = [f'"{f.replace(chr(34), chr(34) * 2)}"' if any(c in f for c in ',"\n') else f for f in fields]
    return ",".join(quoted) + "\n"


def export_automl_csv(dataset_uri: str, output_uri: str) -> DatasetExport:
    """Write the dataset at ``dataset_uri`` under ``output_uri`` as AutoML import CSVs.

    Raises:
        DatasetError: the dataset cannot be read. ValueError: its task cannot write CSV rows.
    """
    dataset = dataset_lib.load(dataset_uri)
    rules = get_task(dataset.prediction_type).annotations
    lines: dict[MLUse, list[str]] = {ml_use: [] for ml_use in AUTOML_CSV_ML_USES}
    for video in dataset.videos:
        ml_use = MLUse.TRAIN if video.ml_use is MLUse.VALIDATION else video.ml_use
        lines[ml_use] += [_csv_line([video.uri, *rules.to_csv_row(a)]) for a in video.annotations]
    csv_uris = {}
    for ml_use, rows in lines.items():
        if rows:
            csv_uris[ml_use.value] = storage.join(output_uri, f"{ml_use.value.lower()}.csv")
            storage.write_text(csv_uris[ml_use.value], "".join(rows))
    top_level_uri = storage.join(output_uri, TOP_LEVEL_FILE)
    storage.write_text(top_level_uri, "".join(_csv_line([ml_use, uri]) for ml_use, uri in csv_uris.items()))
    return DatasetExport(output_uri, top_level_uri, csv_uris, sum(len(rows) for rows in lines.values()))

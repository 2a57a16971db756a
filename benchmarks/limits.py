"""Issue 18's figures in one run, each as a ratio to its limit (nothing asserted; JSON at the end).

| figure | limit it is divided by | goal |
|---|---|---|
| batch prediction, segment + 1 s | one decoder per CPU decoding every frame (PyAV, same videos) | ≥ 0.9 |
| batch prediction, segment + 1 s + shots | the same | ≥ 0.7 |
| one 10-minute row on every CPU | the same row pinned to one CPU (outputs compared) | ≥ 1.7 on 2 CPUs |
| training from the clip cache | the same training step fed the same batches from memory | ≥ 0.95 |
| ``kfp.local`` orchestration in the demo | the demo's pipeline wall time | ≤ 0.05 |
| LiteRT clips/s (float, dynamic-range) | Keras ``predict_on_batch`` clips/s; top-1 agreement with Keras | ≥ 0.99 agreement |
| peak RSS of batch prediction, 10-minute video | the same on a 30-second video; 1 GiB | < 1 GiB, flat |

Prediction is measured on the default noisy motion videos (x264 veryfast, almost no B-frames: every
frame must be decoded) and on camera-like footage with B-frames (x264 medium: the frames no sample time
needs are not decoded). Each figure comes from the benchmark that owns it (``predict_throughput.py``,
``long_row.py``, ``train_throughput.py``, ``inference_backends.py``, the demo's own ``overhead_share``),
so the numbers here are theirs. Wall-clock ratios are noisy on a shared machine; prediction and training
also give CPU-time ratios, which hold still under other processes' load.

    python benchmarks/limits.py [--workdir DIR] [--quick]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

from inference_backends import clip_scoring, trained_models
from long_row import long_row_speedup
from predict_throughput import make_model, make_videos, peak_rss_figures, prediction_ratios
from train_throughput import training_ratio

from automl_video.modeling.metadata import ModelType


def prediction_figures(workdir: str, seconds: float, passes: int, repeats: int) -> dict:
    model = make_model(os.path.join(workdir, "model"))
    figures = {}
    for name, bframes in (("motion videos", False), ("camera videos with B-frames", True)):
        ratios = prediction_ratios(model, make_videos(workdir, 2, seconds, bframes), workdir, repeats, passes)
        figures[name] = {kind: ratios[kind] for kind in ("segment + 1 s", "segment + 1 s + shot")}
    return figures


def demo_orchestration(workdir: str) -> dict:
    """The demo's own account of where its pipeline's time went."""
    output = os.path.join(workdir, "demo")
    command = [sys.executable, "-m", "automl_video", "demo", "--output", output, "--json"]
    completed = subprocess.run(command, capture_output=True, text=True, check=True)
    summary = json.loads(completed.stdout)
    return {
        "overhead_share": summary["overhead_share"],
        "pipeline_wall_seconds": summary["wall_seconds"],
        "demo_total_seconds": summary["total_seconds"],
    }


def peak_memory(workdir: str, lengths: list[float]) -> dict:
    """Peak RSS of a fresh prediction process (segment, shots, 1-second intervals) per video length."""
    figures = peak_rss_figures(make_model(os.path.join(workdir, "model")), workdir, lengths)
    return {f"{seconds:g} s": figure["peak_rss_mib"] for seconds, figure in figures.items()}


def litert_figures(workdir: str, budget_minutes: float) -> list[dict]:
    models = trained_models(workdir, budget_minutes, (ModelType.MOBILE_VERSATILE_1,))
    return clip_scoring(models[ModelType.MOBILE_VERSATILE_1.value], 128)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "automl-video-limits"))
    parser.add_argument("--quick", action="store_true", help="shorter videos and fewer rounds (a smoke run)")
    args = parser.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    quick = args.quick
    report: dict = {"cpus": os.cpu_count()}
    report["prediction"] = prediction_figures(
        args.workdir, 20.0 if quick else 60.0, 1 if quick else 2, 1 if quick else 2
    )
    report["long_row"] = long_row_speedup(args.workdir, 60.0 if quick else 600.0, 2, 1 if quick else 2)
    training = training_ratio(
        os.path.join(args.workdir, "training"), ModelType.MOBILE_VERSATILE_1, 32 if quick else 64, 2 if quick else 6
    )
    report["training"] = {
        key: training[key] for key in ("ratio", "paired_ratio_median", "step_ratio", "cpu_ratio", "step_ms_median")
    }
    report["orchestration"] = demo_orchestration(args.workdir)
    report["litert"] = litert_figures(os.path.join(args.workdir, "inference"), 0.5 if quick else 1.0)
    report["peak_rss_mib"] = peak_memory(args.workdir, [30.0, 60.0] if quick else [30.0, 600.0, 1800.0])
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

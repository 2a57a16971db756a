"""Batch prediction speed and memory on 360p30 H.264 videos (issues 5 and 18).

Prints video-seconds per wall-second for segment-only and segment + 1-second prediction (and with
shots), next to the decode-only throughput of the same videos (PyAV decoding every frame, nothing
else; goal: prediction ≥ 0.8 × decode-only). Decode-only is measured twice: one decoder with FFmpeg's
threads (the issue's baseline) and one single-threaded decoder per CPU side by side (how prediction
reads rows, so the most it can reach). Then the peak RSS of a prediction process (segment, shots
and 1-second intervals) on a long video and on a short one (goal: < 1 GiB and the same for both).

The model is the real MOBILE_VERSATILE_1 network with untrained weights (same cost as a trained one)
unless ``--model`` names a trained model folder. Videos are generated once into ``--workdir``.
``--bframes`` measures camera-like footage encoded with x264 medium and B-frames instead (issue 18:
prediction skips decoding the non-reference frames no sample time needs; about half of these videos'
frames are such, while x264 veryfast puts almost none in the default noisy videos).

    python benchmarks/predict_throughput.py [--videos 2] [--seconds 60] [--passes 4] [--bframes]
        [--long-seconds 600] [--short-seconds 30]
"""

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

WIDTH, HEIGHT, FPS = 640, 360, 30


def make_model(folder: str) -> str:
    """An untrained MOBILE_VERSATILE_1 model folder with the default input spec, made once: its LiteRT
    conversion is then cached beside it, as a user's model's is after its first prediction."""
    import keras

    from automl_video import storage

    if os.path.exists(os.path.join(folder, storage.COMPLETE_MARKER)):
        return folder
    from automl_video.data.dataset import AnnotationSpec
    from automl_video.modeling.loading import WEIGHTS_FILE
    from automl_video.modeling.metadata import ModelMetadata, ModelType, save_metadata
    from automl_video.tasks.classification.network import ClassificationNetworks

    os.makedirs(folder, exist_ok=True)
    keras.utils.set_random_seed(0)
    networks = ClassificationNetworks()
    spec = networks.default_input_spec(ModelType.MOBILE_VERSATILE_1)
    labels = ["left_to_right", "right_to_left", "top_to_bottom", "bottom_to_top"]
    networks.build(ModelType.MOBILE_VERSATILE_1, len(labels), spec).save_weights(os.path.join(folder, WEIGHTS_FILE))
    specs = [AnnotationSpec(str(i + 1), name) for i, name in enumerate(labels)]
    save_metadata(ModelMetadata("MOBILE_VERSATILE_1", specs, spec, display_name="bench"), folder)
    with open(os.path.join(folder, storage.COMPLETE_MARKER), "w") as f:
        f.write("bench\n")
    return folder


def make_videos(workdir: str, count: int, seconds: float, bframes: bool = False) -> list[str]:
    """Noisy moving-object videos (every frame differs, like camera footage), or (``bframes``) a panning
    textured scene encoded with x264 medium and up to 3 B-frames (synth.B_FRAMES); cached between runs."""
    from automl_video import synth

    paths = []
    for index in range(count):
        name = f"camera{index}_bframes" if bframes else f"motion{index}"
        path = os.path.join(workdir, f"{name}_{seconds:g}s_{HEIGHT}p{FPS}.mp4")
        if not os.path.exists(path) and bframes:
            synth.make_camera_video(path, seconds, FPS, WIDTH, HEIGHT, seed=index, x264_params=synth.B_FRAMES)
        elif not os.path.exists(path):
            motion = synth.MOTIONS[index % 4]
            synth.make_motion_video(path, motion, seconds=seconds, fps=FPS, width=WIDTH, height=HEIGHT, seed=index)
        paths.append(path)
    return paths


def make_long_video(workdir: str, seconds: float) -> str:
    from automl_video import synth

    path = os.path.join(workdir, f"long_{seconds:g}s_{HEIGHT}p{FPS}.mp4")
    if not os.path.exists(path):
        synth.make_long_video(path, seconds=seconds, fps=FPS, width=WIDTH, height=HEIGHT)
    return path


@dataclass
class Timing:
    """Wall seconds and CPU seconds (every thread of this process) of one measured piece of work."""

    wall: float
    cpu: float


def timed(work) -> Timing:
    started, cpu_started = time.perf_counter(), time.process_time()
    work()
    return Timing(time.perf_counter() - started, time.process_time() - cpu_started)


def decode_only(paths: list[str], parallel: bool = False) -> Timing:
    """PyAV decoding every frame of ``paths``: one file after another with FFmpeg's own threads, or
    (``parallel``) one file per CPU side by side, single-threaded, as prediction reads rows."""
    import av

    def decode(path: str, threads: str) -> None:
        with av.open(path) as container:
            stream = container.streams.video[0]
            stream.thread_type = threads
            for _ in container.decode(stream):
                pass

    def run() -> None:
        if parallel:
            with ThreadPoolExecutor(os.cpu_count()) as pool:
                list(pool.map(decode, paths, ["NONE"] * len(paths)))
        else:
            for path in paths:
                decode(path, "AUTO")

    return timed(run)


def video_seconds(paths: list[str]) -> float:
    from automl_video.video import probe

    return sum(probe(p).duration for p in paths)


def timed_prediction(
    model: str, rows: list[str], workdir: str, name: str, params, inference: str = "auto"
) -> tuple[float, Timing]:
    """Seconds of video predicted, and the wall and CPU time of one batch run over CSV ``rows`` (clips
    scored by ``inference``, :mod:`automl_video.modeling.inference`)."""
    from automl_video.prediction.engine import batch_predict

    inputs = os.path.join(workdir, f"{name}.csv")
    with open(inputs, "w") as f:
        f.writelines(row + "\n" for row in rows)
    output = os.path.join(workdir, "out", name, str(time.time_ns()))
    results = []
    timing = timed(lambda: results.append(batch_predict(model, [inputs], output, params, inference=inference)))
    if results[0].failed_rows:
        raise SystemExit(f"{name}: {results[0].failures}")
    return results[0].video_seconds, timing


def prediction_ratios(model: str, paths: list[str], workdir: str, repeats: int, passes: int) -> dict:
    """Each prediction type's video-s/s and its ratio to decoding every frame, as a dict per type.

    Each prediction run is paired with decode-only passes just before it (the machine's load drifts); the
    best of ``repeats`` pairs is kept. Ratios (to one decoder per CPU, the ceiling of rows decoded side by
    side, and to one decoder with FFmpeg's threads):

    * ``wall``: video-s/s over video-s/s, as a user sees it;
    * ``steady``: the same, less the fixed cost of a run (model load, tracing: a 1-second row, measured
      on its own), which longer batches amortise;
    * ``cpu``: decode-only CPU seconds over the prediction's steady CPU seconds: what the work costs,
      whatever else runs on a shared machine; ``cpu_busy`` says how much of every CPU the prediction
      kept busy (1.0: all of them), so ``cpu × cpu_busy`` is what an idle machine's steady ratio is.
    """
    from automl_video.tasks.classification.prediction import PredictionParams

    seconds = video_seconds(paths) * passes
    whole_videos = [f"{p},0,inf" for p in paths] * passes
    one_second = PredictionParams(one_sec_interval_classification=True)
    timed_prediction(model, [f"{paths[0]},0,1"], workdir, "warmup", one_second)
    _, fixed = timed_prediction(model, [f"{paths[0]},0,1"], workdir, "fixed", one_second)
    runs = [
        ("segment only", PredictionParams()),
        ("segment + 1 s", one_second),
        ("segment + 1 s + shot", PredictionParams(shot_classification=True, one_sec_interval_classification=True)),
    ]
    cpus = os.cpu_count() or 1
    figures = {"video_seconds": seconds, "fixed_wall": round(fixed.wall, 2), "fixed_cpu": round(fixed.cpu, 2)}
    for name, params in runs:
        best = None
        for _ in range(repeats):
            one_decoder = decode_only(paths * passes)
            per_cpu = decode_only(paths * passes, parallel=True)
            run_name = name.replace(" ", "").replace("+", "_")
            predicted, run = timed_prediction(model, whole_videos, workdir, run_name, params)
            steady = Timing(max(1e-6, run.wall - fixed.wall), max(1e-6, run.cpu - fixed.cpu))
            figure = {
                "video_s_per_s": round(predicted / run.wall, 1),
                "one_decoder_video_s_per_s": round(seconds / one_decoder.wall, 1),
                "per_cpu_decoders_video_s_per_s": round(seconds / per_cpu.wall, 1),
                "wall": round(per_cpu.wall / run.wall, 2),
                "wall_vs_one_decoder": round(one_decoder.wall / run.wall, 2),
                "steady": round(per_cpu.wall / steady.wall, 2),
                "cpu": round(per_cpu.cpu / steady.cpu, 2),
                "cpu_busy": round(min(1.0, steady.cpu / (steady.wall * cpus)), 2),
            }
            best = figure if best is None or figure["steady"] > best["steady"] else best
        figures[name] = best
    return figures


def throughput(model: str, paths: list[str], workdir: str, repeats: int, passes: int, encoding: str) -> None:
    figures = prediction_ratios(model, paths, workdir, repeats, passes)
    print(
        f"{len(paths)} videos x {passes} rows each, {figures['video_seconds']:.0f} s of {HEIGHT}p{FPS} H.264 "
        f"({encoding}); fixed cost per run (model load, tracing, 1 s of video) {figures['fixed_wall']:.2f} s"
    )
    print("  video-s/s; ratios to decode-only (PyAV decoding every frame) with one decoder per CPU (rows decode")
    print("  side by side, so this is the ceiling): as run, steady (less the fixed cost), and in CPU seconds")
    for name, figure in figures.items():
        if isinstance(figure, dict):
            print(
                f"  {name + ':':22s} {figure['video_s_per_s']:6.1f}; one per CPU {figure['per_cpu_decoders_video_s_per_s']:6.1f}, "
                f"ratio {figure['wall']:4.2f}, steady {figure['steady']:4.2f}, CPU {figure['cpu']:4.2f} "
                f"(CPUs busy {figure['cpu_busy']:.2f}); one decoder {figure['one_decoder_video_s_per_s']:6.1f}, "
                f"ratio {figure['wall_vs_one_decoder']:4.2f}"
            )


def peak_rss_child(model: str, video: str, workdir: str) -> None:
    """Run in a fresh process: predict every type over one video, print peak RSS as JSON."""
    from automl_video.tasks.classification.prediction import PredictionParams

    params = PredictionParams(shot_classification=True, one_sec_interval_classification=True)
    predicted, run = timed_prediction(model, [f"{video},0,inf"], workdir, f"rss_{os.path.basename(video)}", params)
    # VmHWM, not ru_maxrss: Linux keeps ru_maxrss across exec, so a child of a big parent reports the parent's.
    with open("/proc/self/status") as f:
        peak_kib = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    print(json.dumps({"video_seconds": predicted, "wall_seconds": run.wall, "peak_rss_mib": peak_kib / 1024}))


def peak_rss_figures(model: str, workdir: str, lengths: list[float]) -> dict[float, dict]:
    """Peak RSS (MiB) and video-s/s of a fresh process predicting one video of each length, after a
    warm-up that converts the model once (the conversion's memory is not prediction's)."""
    timed_prediction(model, [f"{make_long_video(workdir, min(lengths))},0,1"], workdir, "rss_warmup", None)
    figures = {}
    for seconds in lengths:
        video = make_long_video(workdir, seconds)
        command = [sys.executable, __file__, "--rss-child", video, "--model", model, "--workdir", workdir]
        completed = subprocess.run(command, capture_output=True, text=True, check=True)
        doc = json.loads(completed.stdout.strip().splitlines()[-1])
        figures[seconds] = {
            "peak_rss_mib": round(doc["peak_rss_mib"], 1),
            "video_s_per_s": round(doc["video_seconds"] / doc["wall_seconds"], 1),
        }
    return figures


def peak_rss(model: str, workdir: str, long_seconds: float, short_seconds: float) -> None:
    print(f"peak RSS, segment + shot + 1 s, one process per video ({WIDTH}x{HEIGHT} {FPS} fps):")
    for seconds, figure in peak_rss_figures(model, workdir, [short_seconds, long_seconds]).items():
        print(
            f"  {seconds:6.0f} s video: peak RSS {figure['peak_rss_mib']:7.1f} MiB ({figure['video_s_per_s']:.1f} video-s/s)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=2, help="throughput videos")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each throughput video")
    parser.add_argument("--repeats", type=int, default=2, help="best of this many runs per measurement")
    parser.add_argument("--passes", type=int, default=4, help="rows per throughput video (amortises the model load)")
    parser.add_argument("--bframes", action="store_true", help="x264 medium videos with B-frames (synth.B_FRAMES)")
    parser.add_argument("--long-seconds", type=float, default=600.0)
    parser.add_argument("--short-seconds", type=float, default=30.0)
    parser.add_argument("--model", help="trained model folder (default: untrained network)")
    parser.add_argument("--workdir", default=os.path.join("/tmp", "automl-video-predict-bench"))
    parser.add_argument("--skip-rss", action="store_true")
    parser.add_argument("--rss-child", metavar="VIDEO", help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    os.makedirs(args.workdir, exist_ok=True)
    model = args.model or make_model(os.path.join(args.workdir, "model"))
    if args.rss_child:
        peak_rss_child(model, args.rss_child, args.workdir)
        return
    print(f"{os.cpu_count()} CPUs; timings are noisy on a shared machine")
    videos = make_videos(args.workdir, args.videos, args.seconds, args.bframes)
    encoding = "x264 medium, B-frames" if args.bframes else "x264 veryfast"
    throughput(model, videos, args.workdir, args.repeats, args.passes, encoding)
    if not args.skip_rss:
        peak_rss(model, args.workdir, args.long_seconds, args.short_seconds)


if __name__ == "__main__":
    main()

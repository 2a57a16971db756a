"""One long video row on one CPU and on every CPU: the speed-up and whether the outputs are equal (issue 18).

Batch prediction (segment + 1-second intervals, the real MOBILE_VERSATILE_1 network of
``predict_throughput.py``) over a single row: a ``--seconds`` long 360p30 video, camera-like footage with
B-frames (``predict_throughput.py --bframes``: one minute of it, played in a loop by copying its packets,
since encoding ten minutes takes longer than the benchmark). Each run is a fresh
process pinned with ``os.sched_setaffinity`` to the first CPU, or to the first ``--cpus`` CPUs, so the
library sizes its decoders and LiteRT threads from what it may use, as under ``taskset`` or a cgroup.
Runs alternate (one, all, one, all, ...: the machine's load drifts) and the best of ``--repeats`` of each
is kept. The outputs of the two settings are compared file by file, as written (goal: equal, and the
all-CPU run ≥ 1.7 × faster on 2 CPUs).

    python benchmarks/long_row.py [--seconds 600] [--cpus 2] [--repeats 2]
"""

import argparse
import glob
import json
import math
import os
import subprocess
import sys

import av
from predict_throughput import make_model, make_videos


def looped_video(source: str, seconds: float, target: str) -> str:
    """``source`` repeated to ``seconds`` by copying its packets with shifted timestamps (no re-encoding)."""
    if os.path.exists(target):
        return target
    partial = target + ".partial.mp4"
    with av.open(source) as inp, av.open(partial, "w") as out:
        in_stream = inp.streams.video[0]
        stream = out.add_stream_from_template(in_stream)
        loop_pts = round(float(inp.duration / av.time_base) / in_stream.time_base)
        for loop in range(math.ceil(seconds * av.time_base / inp.duration)):
            inp.seek(0, stream=in_stream)
            for packet in inp.demux(in_stream):
                if packet.dts is None:
                    continue
                packet.pts += loop * loop_pts
                packet.dts += loop * loop_pts
                packet.stream = stream
                out.mux(packet)
    os.replace(partial, target)
    return target


def predict_pinned(model: str, video: str, workdir: str, cpus: int, run: int) -> dict:
    """Predict the row in a child process pinned to ``cpus`` CPUs; its JSON result line."""
    command = [sys.executable, __file__, "--child", video, "--model", model, "--workdir", workdir]
    command += ["--cpus", str(cpus), "--run", str(run)]
    completed = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def child(model: str, video: str, workdir: str, cpus: int, run: int) -> None:
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:cpus])
    from predict_throughput import timed_prediction

    from automl_video.tasks.classification.prediction import PredictionParams

    params = PredictionParams(one_sec_interval_classification=True)
    name = f"long_row_{cpus}cpu_{run}"
    predicted, run = timed_prediction(model, [f"{video},0,inf"], workdir, name, params)
    outputs = sorted(glob.glob(os.path.join(workdir, "out", name, "*", "prediction-*", "**", "*.json"), recursive=True))
    print(json.dumps({"video_seconds": predicted, "wall_seconds": run.wall, "output": outputs[-1]}))


def row_predictions(output_file: str) -> list:
    """The row's predictions as the output JSON holds them."""
    with open(output_file) as f:
        return json.load(f)


def long_row_speedup(workdir: str, seconds: float, cpus: int, repeats: int) -> dict:
    """The best wall time of the row on one CPU and on ``cpus``, their ratio, and whether outputs are equal."""
    model = make_model(os.path.join(workdir, "model"))
    (minute,) = make_videos(workdir, 1, 60.0, bframes=True)
    video = looped_video(minute, seconds, os.path.join(workdir, f"camera_loop_{seconds:g}s.mp4"))
    predict_pinned(model, video, workdir, cpus, -1)  # converts the model to LiteRT once, outside the timings
    best: dict[int, dict] = {}
    for run in range(repeats):
        for count in (1, cpus):
            result = predict_pinned(model, video, workdir, count, run)
            if count not in best or result["wall_seconds"] < best[count]["wall_seconds"]:
                best[count] = result
    one, many = best[1], best[cpus]
    return {
        "video_seconds": one["video_seconds"],
        "one_cpu_seconds": round(one["wall_seconds"], 2),
        f"{cpus}_cpu_seconds": round(many["wall_seconds"], 2),
        "speedup": round(one["wall_seconds"] / many["wall_seconds"], 2),
        "outputs_equal": row_predictions(one["output"]) == row_predictions(many["output"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600.0, help="length of the row's video")
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the parallel run")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--workdir", default=os.path.join("/tmp", "automl-video-predict-bench"))
    parser.add_argument("--child", metavar="VIDEO", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--run", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    if args.child:
        child(args.model, args.child, args.workdir, args.cpus, args.run)
        return
    print(json.dumps(long_row_speedup(args.workdir, args.seconds, args.cpus, args.repeats)))


if __name__ == "__main__":
    main()

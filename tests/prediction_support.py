"""What the batch prediction tests share: a tiny published classification model, videos with known cuts
(and broken ones), and readers of the output files that check them against the real AutoML protos."""

import glob
import json
import os
import signal
import subprocess
import time

import numpy as np
import pytest
from google.cloud import automl_v1beta1
from google.protobuf import json_format

from automl_video import storage, synth
from automl_video.data.dataset import AnnotationSpec
from automl_video.modeling.metadata import InputSpec, ModelMetadata, ModelType, save_metadata
from automl_video.prediction.engine import WORK_FOLDER
from automl_video.times import parse_duration

LABELS = ["left_to_right", "right_to_left", "clockwise"]
SPEC = InputSpec(num_frames=8, height=64, width=64)
FPS = 15


def publish_tiny_model(folder, spec: InputSpec) -> str:
    """A published model folder: the real network, random weights, output biases spread the scores."""
    import keras

    from automl_video.modeling.loading import OUTPUT_LAYER, WEIGHTS_FILE
    from automl_video.tasks.classification.network import ClassificationNetworks

    keras.utils.set_random_seed(0)
    network = ClassificationNetworks().build(ModelType.MOBILE_VERSATILE_1, len(LABELS), spec)
    kernel, _ = network.get_layer(OUTPUT_LAYER).get_weights()
    network.get_layer(OUTPUT_LAYER).set_weights([kernel, np.array([-4.0, 0.0, 4.0], np.float32)])
    network.save_weights(str(folder / WEIGHTS_FILE))
    specs = [AnnotationSpec(str(i + 1), name) for i, name in enumerate(LABELS)]
    save_metadata(ModelMetadata("MOBILE_VERSATILE_1", specs, spec, display_name="tiny motion"), str(folder))
    (folder / storage.COMPLETE_MARKER).write_text("done\n")
    return str(folder)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> str:
    return publish_tiny_model(tmp_path_factory.mktemp("model"), SPEC)


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("predict_videos")
    six = str(folder / "six.mp4")
    four = str(folder / "four.mp4")
    cuts = {
        "six": synth.make_cut_video(six, [2.0, 4.0], 6.0, fps=FPS, seed=1),
        "four": synth.make_cut_video(four, [1.4], 4.0, fps=FPS, seed=2),
    }
    data = open(six, "rb").read()
    (folder / "truncated.mp4").write_bytes(data[: len(data) // 2])
    # The index (at the front) is intact but the frames of the second half are noise: decoding stops.
    middle = len(data) // 2
    damaged = data[:middle] + np.random.default_rng(0).bytes(len(data) - middle - 100) + data[-100:]
    (folder / "damaged.mp4").write_bytes(damaged)
    (folder / "corrupt.mp4").write_bytes(np.random.default_rng(0).bytes(4000))
    return {
        "six": six,
        "four": four,
        "truncated": str(folder / "truncated.mp4"),
        "damaged": str(folder / "damaged.mp4"),
        "corrupt": str(folder / "corrupt.mp4"),
        "missing": str(folder / "missing.mp4"),
        "cuts": cuts,
    }


def write_file(path, text: str) -> str:
    storage.write_text(str(path), text)
    return str(path)


def legacy_rows(output_dir: str) -> list[list[str]]:
    import csv
    import io

    return list(csv.reader(io.StringIO(storage.read_text(storage.join(output_dir, "video_classification.csv")))))


def checked_payloads(output_dir: str, name: str) -> list[dict]:
    """A legacy JSON file, each element checked against the real AutoML proto (unknown fields rejected)."""
    doc = json.loads(storage.read_text(storage.join(output_dir, name)))
    payload_pb = automl_v1beta1.AnnotationPayload.pb()
    for element in doc:
        json_format.Parse(json.dumps(element), payload_pb(), ignore_unknown_fields=False)
    return doc


def payload_spans(payloads: list[dict], kind: str) -> list[tuple[float, float]]:
    found = {
        (
            parse_duration(p["videoClassification"]["timeSegment"]["startTimeOffset"]),
            parse_duration(p["videoClassification"]["timeSegment"]["endTimeOffset"]),
        )
        for p in payloads
        if p["videoClassification"]["type"] == kind
    }
    return sorted(found)


def predict_killed_after_rows(command: list[str], prefix: str, rows: int = 3) -> list[str]:
    """Run ``automl-video predict`` (``command``, writing under ``prefix``), send it SIGKILL once ``rows``
    of its rows are finished (or after 240 s), and return the finished rows' files, sorted."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    rows_pattern = os.path.join(prefix, WORK_FOLDER, "*", "rows", "*.json")
    deadline = time.monotonic() + 240
    while len(glob.glob(rows_pattern)) < rows and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    return sorted(glob.glob(rows_pattern))

"""Object tracking fixtures: small videos of known frame rates, a tiny synthetic tracking dataset, and a
published detector with random weights (prediction tests need its outputs, not their quality)."""

import shutil

import numpy as np
import pytest

from automl_video import storage, synth
from automl_video.data.dataset import AnnotationSpec
from automl_video.modeling.metadata import InputSpec, ModelMetadata, ModelType, save_metadata
from automl_video.tasks.object_tracking import synth as box_synth

LABELS = ["disc", "square", "diamond"]
TINY_SPEC = InputSpec(num_frames=1, height=64, width=64)


@pytest.fixture(scope="session")
def tracking_media(tmp_path_factory):
    """A 2 s video at 30 fps, one at 10 fps, a byte copy of that one under another name, a broken file."""
    folder = tmp_path_factory.mktemp("tracking_media")
    frames = [np.full((32, 32, 3), 4 * i, np.uint8) for i in range(60)]
    thirty = synth.make_video(str(folder / "thirty.mp4"), frames, fps=30)
    ten = synth.make_video(str(folder / "ten.mp4"), frames[:20], fps=10)
    copy = folder / "copy_of_ten.mov"
    shutil.copyfile(ten, copy)
    broken = folder / "broken.mp4"
    broken.write_bytes(b"not a video\n" * 40)
    return {"thirty": thirty, "ten": ten, "copy": str(copy), "broken": str(broken), "missing": str(folder / "no.mp4")}


@pytest.fixture(scope="session")
def tracking_synth(tmp_path_factory):
    """Nine labelled synthetic videos of 3 classes (1.5 s, 10 fps, 64×64) and one not yet labelled."""
    out = tmp_path_factory.mktemp("tracking_synth")
    return box_synth.generate(str(out), classes=3, videos_per_class=3, seconds=1.5, seed=5, width=64, height=64, fps=10)


def publish_random_detector(folder, model_type: ModelType = ModelType.MOBILE_VERSATILE_1) -> str:
    """A published detector: the real network, random weights, heatmap biases raised so that every
    frame gives boxes of varied scores."""
    import keras

    from automl_video.modeling.loading import OUTPUT_LAYER, WEIGHTS_FILE
    from automl_video.tasks.object_tracking.network import DetectorNetworks

    keras.utils.set_random_seed(0)
    network = DetectorNetworks().build(model_type, len(LABELS), TINY_SPEC)
    kernel, bias = network.get_layer(OUTPUT_LAYER).get_weights()
    bias[: len(LABELS)] = 0.5
    network.get_layer(OUTPUT_LAYER).set_weights([kernel * 4.0, bias])
    network.save_weights(str(folder / WEIGHTS_FILE))
    specs = [AnnotationSpec(str(i + 1), name) for i, name in enumerate(LABELS)]
    metadata = ModelMetadata(
        model_type.value, specs, TINY_SPEC, display_name="tiny tracker", prediction_type="object_tracking"
    )
    save_metadata(metadata, str(folder))
    (folder / storage.COMPLETE_MARKER).write_text("done\n")
    return str(folder)


@pytest.fixture(scope="session")
def random_detector(tmp_path_factory) -> str:
    return publish_random_detector(tmp_path_factory.mktemp("detector"))

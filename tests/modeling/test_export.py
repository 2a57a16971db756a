"""Exports of a really (if briefly) trained model behave like the model itself.

The module fixture trains a MOBILE_VERSATILE_1 network for a few epochs on the TRAIN split of a small
dataset of generated videos whose classes differ by colour, so that after a few CPU seconds the model
generalises to the TEST split and its top-1 label there is a real decision (on the motion-only synthetic
classes a few epochs leave the TEST top-1 a near tie, which no quantization could be expected to keep).
The checks run on clips of the TEST split that training never saw.
"""

import json
import os
import tempfile

import keras
import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

from automl_video import cli, storage, synth
from automl_video.data import dataset as dataset_lib
from automl_video.data import importer, splits
from automl_video.modeling import export, loading
from automl_video.modeling.metadata import InputSpec, ModelMetadata, save_metadata
from automl_video.video import VideoReader

SPEC = InputSpec(num_frames=8, height=64, width=64)
CLASS_COLOURS = {"red": (190, 50, 40), "green": (50, 170, 60), "blue": (40, 70, 190)}
VIDEOS_PER_CLASS = 12  # every third is TEST
# Enough to generalise, not so much that every score saturates at 0 or 1 (which would hide errors).
TRAIN_EPOCHS = 4
LEARNING_RATE = 3e-4
TRAIN_CLIPS_PER_SEGMENT = 4
TEST_CLIPS_PER_SEGMENT = 12


def colour_video(path: str, colour: tuple[int, int, int], seed: int) -> str:
    """A textured background tinted by the class colour, a square of random colour moving over it."""
    rng = np.random.default_rng(seed)
    background = np.asarray(colour) * rng.uniform(0.7, 1.1) + rng.normal(0, 15, (64, 64, 3))
    square = rng.integers(0, 256, 3)
    x0, y0, vx, vy = rng.uniform(0, 52, 2).tolist() + rng.uniform(-3, 3, 2).tolist()

    def frame(index: int) -> np.ndarray:
        image = background + rng.normal(0, 4, (64, 64, 3))
        x, y = int(x0 + vx * index) % 52, int(y0 + vy * index) % 52
        image[y : y + 12, x : x + 12] = square
        return np.clip(image, 0, 255).astype(np.uint8)

    return synth.make_video(path, frame, fps=10, num_frames=20)


def colour_dataset(root: str) -> str:
    """Generate, import and split the colour dataset; returns its URI."""
    rows: dict[str, list[str]] = {"TRAIN": [], "TEST": []}
    for class_index, (label, colour) in enumerate(CLASS_COLOURS.items()):
        for j in range(VIDEOS_PER_CLASS):
            uri = colour_video(f"{root}/videos/{label}_{j}.mp4", colour, seed=100 * class_index + j)
            rows["TEST" if j % 3 == 0 else "TRAIN"].append(f"{uri},{label},0,inf\n")
    for use, lines in rows.items():
        storage.write_text(f"{root}/{use.lower()}.csv", "".join(lines))
    storage.write_text(f"{root}/import.csv", "".join(f"{use},{root}/{use.lower()}.csv\n" for use in rows))
    dataset_uri = f"{root}/dataset"
    importer.import_data([f"{root}/import.csv"], dataset_uri)
    splits.split_dataset(dataset_uri)
    return dataset_uri


def segment_clips(dataset: dataset_lib.Dataset, splits_: tuple[str, ...], per_segment: int, seed: int):
    """Clips of every segment of the given splits: the centre one, then randomly jittered ones."""
    rng = np.random.default_rng(seed)
    names = dataset.label_names()
    clips, targets = [], []
    for video in dataset.videos:
        if video.split not in splits_:
            continue
        with VideoReader(video.uri) as reader:
            for segment in video.annotations:
                for k in range(per_segment):
                    clips.append(reader.read_clip(segment.start, segment.end, SPEC, rng=rng if k else None))
                    targets.append([segment.label == name for name in names])
    return np.stack(clips), np.array(targets, dtype=np.float32)


def publish_model(model_uri: str, metadata: ModelMetadata, network: keras.Model) -> None:
    with tempfile.TemporaryDirectory() as local:
        save_metadata(metadata, local)
        network.save_weights(os.path.join(local, loading.WEIGHTS_FILE))
        storage.publish_dir(local, model_uri)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A model trained for a few epochs, its dataset, and TEST clips with the model's own scores."""
    root = str(tmp_path_factory.mktemp("export"))
    dataset_uri = colour_dataset(root)
    dataset = dataset_lib.load(dataset_uri)
    clips, targets = segment_clips(dataset, ("TRAIN", "VALIDATION"), TRAIN_CLIPS_PER_SEGMENT, seed=0)
    keras.utils.set_random_seed(0)
    metadata = ModelMetadata("MOBILE_VERSATILE_1", dataset.annotation_specs, SPEC, dataset_uri=dataset_uri)
    network = loading.build_network(metadata)
    network.compile(keras.optimizers.Adam(LEARNING_RATE), "binary_crossentropy")
    network.fit(clips, targets, batch_size=16, epochs=TRAIN_EPOCHS, verbose=0)
    model_uri = f"{root}/model"
    publish_model(model_uri, metadata, network)
    test_clips, test_targets = segment_clips(dataset, ("TEST",), TEST_CLIPS_PER_SEGMENT, seed=1)
    loaded = loading.load_model(model_uri)
    test_scores = loaded.predict_clips(test_clips)
    # The premise of the top-1 checks: the model has learnt something that holds on unseen videos.
    assert np.mean(test_scores.argmax(axis=1) == test_targets.argmax(axis=1)) >= 0.9
    return model_uri, dataset, loaded, test_clips, test_scores


def tflite_scores(tflite_file: str, clips: np.ndarray) -> np.ndarray:
    """Scores from the LiteRT interpreter through the ``serving_default`` signature, one clip at a time."""
    runner = Interpreter(model_path=tflite_file).get_signature_runner("serving_default")
    return np.concatenate([runner(frames=clip[np.newaxis])["scores"] for clip in clips])


@pytest.fixture(scope="module")
def float_tflite(trained, tmp_path_factory):
    model_uri = trained[0]
    return export.export_model(model_uri, "tflite", str(tmp_path_factory.mktemp("float") / "out"))


def test_saved_model_gives_the_model_scores(trained, tmp_path):
    model_uri, dataset, _, clips, expected = trained
    result = export.export_model(model_uri, "tf-saved-model", str(tmp_path / "saved"))
    assert result.model_uri == str(tmp_path / "saved")
    assert os.path.exists(tmp_path / "saved" / "saved_model.pb")
    serving = tf.saved_model.load(result.model_uri).signatures["serving_default"]
    (inputs,) = serving.structured_input_signature[1].values()
    assert inputs.dtype == tf.uint8 and inputs.shape.as_list() == [None, 8, 64, 64, 3]
    scores = serving(frames=tf.constant(clips))["scores"].numpy()
    assert np.abs(scores - expected).max() <= 1e-4
    assert storage.read_text(result.labels_uri).splitlines() == dataset.label_names()
    spec = storage.read_json(result.input_spec_uri)
    assert spec["inputs"] == {"frames": {"dtype": "uint8", "shape": [-1, 8, 64, 64, 3]}}
    assert spec["labels"] == dataset.label_names() and spec["sampling"] == "uniform"
    assert result.model_size_bytes > 0
    print(f"\nSavedModel: {result.model_size_bytes} bytes")


def test_float_tflite_gives_the_model_scores_and_carries_labels(trained, float_tflite):
    _, dataset, _, clips, expected = trained
    tflite_file = float_tflite.model_uri
    assert tflite_file.endswith("/model.tflite")
    scores = tflite_scores(tflite_file, clips)
    assert np.abs(scores - expected).max() <= 1e-4
    with open(tflite_file, "rb") as f:
        embedded = export.read_tflite_metadata(f.read())
    assert embedded["labels"].decode().splitlines() == dataset.label_names()
    assert json.loads(embedded["input_spec"])["num_frames"] == 8
    assert storage.read_text(float_tflite.labels_uri).splitlines() == dataset.label_names()
    # The whole batch axis is dynamic: a batch of 3 in one call gives the same scores.
    interpreter = Interpreter(model_path=tflite_file)
    interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], [3, 8, 64, 64, 3])
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], clips[:3])
    interpreter.invoke()
    batch = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    assert np.abs(batch - expected[:3]).max() <= 1e-4


@pytest.mark.parametrize("quantize", ["int8", "dynamic"])
def test_quantized_tflite_keeps_top1_and_is_3x_smaller(trained, float_tflite, quantize, tmp_path):
    model_uri, _, _, clips, expected = trained
    result = export.export_model(model_uri, "tflite", str(tmp_path / quantize), quantize=quantize)
    scores = tflite_scores(result.model_uri, clips)
    agreement = float(np.mean(scores.argmax(axis=1) == expected.argmax(axis=1)))
    ratio = float_tflite.model_size_bytes / result.model_size_bytes
    print(
        f"\n{quantize}: top-1 agreement {agreement:.4f} on {len(clips)} TEST clips, max |diff| "
        f"{np.abs(scores - expected).max():.4f}, {result.model_size_bytes} bytes vs float "
        f"{float_tflite.model_size_bytes} ({ratio:.2f}x smaller)"
    )
    assert len(clips) >= 100
    assert agreement >= 0.99
    assert ratio >= 3.0
    interpreter = Interpreter(model_path=result.model_uri)
    conv_weight_types = {
        d["dtype"] for d in interpreter.get_tensor_details() if "conv" in d["name"].lower() and len(d["shape"]) == 4
    }
    assert np.int8 in conv_weight_types
    if quantize == "int8":
        assert result.representative_clips > 0
        # Full integer: every tensor between the input cast and the output dequantize is int8/int32.
        float_tensors = [d for d in interpreter.get_tensor_details() if d["dtype"] == np.float32]
        assert len(float_tensors) == 2


def test_cloud_models_are_refused(trained, tmp_path, capsys):
    _, dataset, _, _, _ = trained
    cloud_uri = str(tmp_path / "cloud")
    with tempfile.TemporaryDirectory() as local:
        save_metadata(ModelMetadata("CLOUD", dataset.annotation_specs, SPEC), local)
        storage.publish_dir(local, cloud_uri)
    with pytest.raises(export.ExportError, match="model type CLOUD cannot be exported.*only MOBILE_"):
        export.export_model(cloud_uri, "tflite", str(tmp_path / "out"))
    command = ["export", "--model", cloud_uri, "--format", "tf-saved-model", "--output", str(tmp_path / "o")]
    assert cli.main(command) == 1
    assert "CLOUD cannot be exported" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "out") and not os.path.exists(tmp_path / "o")


def test_bad_options_are_refused(trained, tmp_path):
    model_uri = trained[0]
    with pytest.raises(ValueError, match="export format 'onnx' is not one of tf-saved-model, tflite"):
        export.export_model(model_uri, "onnx", str(tmp_path / "out"))
    with pytest.raises(ValueError, match="quantize 'int4' is not one of none, dynamic, int8"):
        export.export_model(model_uri, "tflite", str(tmp_path / "out"), quantize="int4")
    with pytest.raises(ValueError, match="applies to tflite only"):
        export.export_model(model_uri, "tf-saved-model", str(tmp_path / "out"), quantize="int8")


def test_int8_needs_a_dataset_to_calibrate(trained, tmp_path):
    model_uri, dataset, loaded, _, _ = trained
    no_dataset_uri = str(tmp_path / "model_without_dataset")
    metadata = ModelMetadata("MOBILE_VERSATILE_1", dataset.annotation_specs, SPEC, dataset_uri="")
    publish_model(no_dataset_uri, metadata, loaded.network)
    with pytest.raises(export.ExportError, match="records no dataset; pass --representative-dataset"):
        export.export_model(no_dataset_uri, "tflite", str(tmp_path / "out"), quantize="int8")
    dataset_uri = storage.read_json(storage.join(model_uri, "model.json"))["dataset_uri"]
    untrained = dataset_lib.load(dataset_uri)
    for video in untrained.videos:
        video.split = "TEST" if video.split in ("TRAIN", "VALIDATION") else video.split
    no_train_uri = str(tmp_path / "no_train")
    dataset_lib.save(untrained, no_train_uri)
    with pytest.raises(export.ExportError, match=f"{no_train_uri}: int8 quantization needs .* no TRAIN or VALIDATION"):
        export.export_model(no_dataset_uri, "tflite", str(tmp_path / "out"), quantize="int8", dataset_uri=no_train_uri)
    assert not os.path.exists(tmp_path / "out")


def test_cli_exports_to_gcs(trained, gcs_bucket, capsys):
    model_uri, dataset, _, clips, expected = trained
    output = f"{gcs_bucket}/exports/tflite"
    code = cli.main(["export", "--model", model_uri, "--format", "tflite", "--output", output, "--json"])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["model_uri"] == f"{output}/model.tflite" and doc["quantize"] == "none"
    assert storage.is_published(output)
    assert storage.read_text(f"{output}/dict.txt").splitlines() == dataset.label_names()
    with storage.local_copy(doc["model_uri"]) as local_file:
        assert np.abs(tflite_scores(local_file, clips[:8]) - expected[:8]).max() <= 1e-4
    assert cli.main(["export", "--model", model_uri, "--format", "tf-saved-model", "--output", f"{output}-sm"]) == 0
    assert "Exported tf-saved-model" in capsys.readouterr().out
    with storage.local_dir(f"{output}-sm") as local_dir:
        serving = tf.saved_model.load(local_dir).signatures["serving_default"]
        assert np.abs(serving(frames=tf.constant(clips[:4]))["scores"].numpy() - expected[:4]).max() <= 1e-4

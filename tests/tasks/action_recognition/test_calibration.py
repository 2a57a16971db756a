"""Action recognition's calibration: one temperature on the softmax, fitted on VALIDATION and folded
into the published weights (the checkpoint keeps the weights as trained)."""

import numpy as np

from automl_video import storage
from automl_video.data import importer, splits
from automl_video.modeling.calibration import output_logits, softmax
from automl_video.modeling.loading import build_network, load_model, load_weights
from automl_video.modeling.metadata import InputSpec
from automl_video.training.checkpoints import CHECKPOINT_DIR
from automl_video.training.engine import train

TINY = InputSpec(num_frames=4, height=32, width=32)


def test_training_folds_one_temperature_into_the_softmax(action_synth, tmp_path):
    dataset_uri = str(tmp_path / "dataset")
    importer.import_data([action_synth.import_jsonl], dataset_uri, prediction_type="action_recognition")
    splits.split_dataset(dataset_uri, seed=2)
    model_uri = str(tmp_path / "model")
    train(dataset_uri, model_uri, input_spec=TINY, max_epochs=1, batch_size=8, cache_dir=str(tmp_path / "cache"))

    model = load_model(model_uri)
    calibration = model.metadata.calibration
    assert calibration.method == "temperature" and len(calibration.labels) == 2
    [scale] = {label.scale for label in calibration.labels}
    assert scale > 0 and abs(scale - 1) > 1e-3 and {label.offset for label in calibration.labels} == {0.0}
    trained = build_network(model.metadata)
    state = storage.read_json(f"{model_uri}/{CHECKPOINT_DIR}/state.json")
    load_weights(trained, f"{model_uri}/{CHECKPOINT_DIR}/{state['best_weights_file']}")
    clips = np.random.default_rng(0).integers(0, 256, (6, *TINY.shape), dtype=np.uint8)
    expected = softmax(scale * output_logits(trained, clips))[:, 1:]  # the background column dropped
    np.testing.assert_allclose(model.predict_clips(clips), expected, atol=1e-5)

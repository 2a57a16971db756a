"""Box targets and decoding, box-aware augmentation, the tracker and the detector network."""

import numpy as np
import pytest

from automl_video.modeling.metadata import InputSpec, ModelType
from automl_video.tasks.object_tracking.boxes import Detections, decode, encode, iou_matrix
from automl_video.tasks.object_tracking.tracker import Tracker, TrackerConfig
from automl_video.tasks.object_tracking.training import augment_frame


def detections(rows) -> Detections:
    rows = np.asarray(rows, np.float32).reshape(-1, 6)  # x_min, y_min, x_max, y_max, label, score
    return Detections(rows[:, :4], rows[:, 4].astype(np.int64), rows[:, 5])


def test_encoded_targets_decode_back_to_the_boxes():
    truth = detections([[0.1, 0.2, 0.3, 0.5, 0, 1], [0.55, 0.6, 0.95, 0.9, 2, 1], [0.6, 0.1, 0.7, 0.2, 1, 1]])
    target = encode(truth, (32, 32), 3)
    assert target.shape == (32, 32, 3 + 5) and target[..., 7].sum() == 3  # one centre cell per box
    output = target[..., :7]  # a perfect network's output: heatmaps, size, offset
    decoded = decode(output, 3)
    order = np.argsort(decoded.labels)
    assert decoded.labels[order].tolist() == [0, 1, 2] and np.allclose(decoded.scores, 1.0)
    assert np.allclose(decoded.corners[order], truth.corners[[0, 2, 1]], atol=1e-6)


def test_decoding_keeps_local_peaks_above_the_floor_best_first():
    output = np.zeros((8, 8, 2 + 4), np.float32)
    output[..., 2:4] = 0.25
    output[2, 2, 0], output[2, 3, 0] = 0.9, 0.8  # a peak and its weaker neighbour (not a peak)
    output[6, 6, 1] = 0.3
    output[5, 1, 0] = 0.04  # below the floor
    decoded = decode(output, 2)
    assert decoded.scores.tolist() == pytest.approx([0.9, 0.3]) and decoded.labels.tolist() == [0, 1]
    assert len(decode(output, 2, limit=1)) == 1


def test_iou():
    a = np.array([[0, 0, 0.5, 0.5]])
    assert iou_matrix(a, np.array([[0, 0, 0.5, 0.5], [0.25, 0, 0.75, 0.5], [0.6, 0.6, 1, 1]])).tolist() == [
        [1.0, pytest.approx(1 / 3), 0.0]
    ]


def test_augmentation_moves_the_boxes_with_the_pixels():
    frame = np.zeros((64, 64, 3), np.uint8)
    frame[8:24, 40:56] = 255  # a white square: x 40-56, y 8-24
    truth = detections([[40 / 64, 8 / 64, 56 / 64, 24 / 64, 0, 1]])
    moved_at_least_once = False
    for seed in range(20):
        image, boxes = augment_frame(frame, truth, np.random.default_rng(seed))
        bright = np.argwhere(image.mean(axis=2) > 180)
        if not len(boxes):
            continue
        (x_min, y_min, x_max, y_max) = boxes.corners[0]
        ys, xs = bright[:, 0], bright[:, 1]
        assert xs.min() / 64 == pytest.approx(x_min, abs=2 / 64) and (xs.max() + 1) / 64 == pytest.approx(
            x_max, abs=2 / 64
        )
        assert ys.min() / 64 == pytest.approx(y_min, abs=2 / 64) and (ys.max() + 1) / 64 == pytest.approx(
            y_max, abs=2 / 64
        )
        moved_at_least_once |= not np.allclose(boxes.corners, truth.corners, atol=1e-3)
    assert moved_at_least_once


def test_the_tracker_follows_moving_boxes_through_a_low_score_frame_and_starts_new_tracks():
    tracker = Tracker(TrackerConfig(high_score=0.5, max_lost_seconds=0.3))
    ids = []
    for k in range(10):
        x = 0.05 + 0.03 * k
        score = 0.2 if k == 5 else 0.9  # an occlusion lowers the score for one frame
        boxes = tracker.step(k / 10, detections([[x, 0.2, x + 0.2, 0.4, 0, score], [0.7, 0.7, 0.9, 0.9, 1, 0.8]]))
        ids.append(sorted((b.label, b.track_id) for b in boxes))
    assert ids == [[(0, 1), (1, 2)]] * 10  # the low box kept track 1; labels never swap tracks
    # A stray low box starts nothing; a new object starts a track; a track lost past max_lost ends.
    assert tracker.step(1.0, detections([[0.3, 0.3, 0.4, 0.4, 2, 0.3]])) == []
    [new] = tracker.step(1.1, detections([[0.1, 0.6, 0.2, 0.7, 2, 0.9]]))
    assert new.track_id == 3
    [again] = tracker.step(1.6, detections([[0.7, 0.7, 0.9, 0.9, 1, 0.8]]))
    assert again.track_id == 4  # track 2 was unseen for 0.7 s > 0.3 s


@pytest.mark.parametrize("model_type", list(ModelType))
def test_every_model_type_builds_a_detector_of_its_profile(model_type):
    from automl_video.modeling.loading import OUTPUT_LAYER
    from automl_video.tasks.object_tracking.network import DetectorNetworks

    networks = DetectorNetworks()
    spec = networks.default_input_spec(model_type)
    assert spec.num_frames == 1 and spec.height == spec.width and spec.height % 16 == 0
    network = networks.build(model_type, 3, InputSpec(1, 64, 64))
    assert network.output.shape[1:] == (16, 16, 3 + 4) and network.layers[-1].name == OUTPUT_LAYER
    frames = np.zeros((2, 1, 64, 64, 3), np.uint8)
    out = np.asarray(network.predict_on_batch(frames))
    assert out.shape == (2, 16, 16, 7) and ((out >= 0) & (out <= 1)).all()
    assert np.allclose(out[..., :3], 0.1, atol=0.05)  # the heatmap prior


def test_the_detector_refuses_clips_and_sizes_it_cannot_take():
    from automl_video.tasks.object_tracking.network import DetectorNetworks

    with pytest.raises(ValueError, match="takes 1 frame whose height and width are multiples of 16"):
        DetectorNetworks().build(ModelType.MOBILE_VERSATILE_1, 2, InputSpec(4, 64, 64))
    with pytest.raises(ValueError, match="multiples of 16"):
        DetectorNetworks().build(ModelType.MOBILE_VERSATILE_1, 2, InputSpec(1, 72, 64))

"""Video object tracking (AutoML v1beta1 and Vertex): labelled boxes on frames, linked into tracks.

A small per-frame detector (CenterNet-style heatmap, size and offset heads on a light backbone:
:mod:`.network`) is trained on the labelled frames (:mod:`.training`); batch prediction and
evaluation link its detections into tracks (Kalman filter and IoU association with a second pass for
low-score boxes, SORT/ByteTrack style: :mod:`.tracker`).
"""

from automl_video.modeling.metadata import ModelType
from automl_video.tasks.base import Task
from automl_video.tasks.object_tracking.annotations import BoxRules
from automl_video.tasks.object_tracking.profiles import EXPORTS


class ObjectTrackingTask(Task):
    """The parts are stateless: each call makes one (their modules, and TensorFlow, load on the first)."""

    prediction_type = "object_tracking"
    model_types = tuple(ModelType)
    annotations = BoxRules()

    def networks(self):
        from automl_video.tasks.object_tracking.network import DetectorNetworks

        return DetectorNetworks()

    def training(self):
        from automl_video.tasks.object_tracking.training import DetectorTraining

        return DetectorTraining()

    def evaluator(self):
        from automl_video.tasks.object_tracking.evaluation import TrackingEvaluator

        return TrackingEvaluator()

    def prediction(self):
        from automl_video.tasks.object_tracking.prediction import TrackingPrediction

        return TrackingPrediction()

    def synthesize(self, output, options):
        from automl_video.tasks.object_tracking.synth import generate

        return generate(output, **vars(options))

    def export_options(self, model_type):
        return EXPORTS[model_type]


TASK = ObjectTrackingTask()

"""Video classification (AutoML v1beta1 and Vertex): labels of time segments, shots and 1-second intervals."""

from automl_video.modeling.metadata import ModelType
from automl_video.tasks.base import Task
from automl_video.tasks.classification.annotations import SegmentRules


class ClassificationTask(Task):
    """The parts are stateless: each call makes one (their modules, and TensorFlow, load on the first)."""

    prediction_type = "classification"
    model_types = (ModelType.CLOUD, ModelType.MOBILE_VERSATILE_1)
    annotations = SegmentRules()

    def networks(self):
        from automl_video.tasks.classification.network import ClassificationNetworks

        return ClassificationNetworks()

    def training(self):
        from automl_video.tasks.classification.training import ClassificationTraining

        return ClassificationTraining()

    def evaluator(self):
        from automl_video.tasks.classification.evaluation import ClassificationEvaluator

        return ClassificationEvaluator()

    def prediction(self):
        from automl_video.tasks.classification.prediction import ClassificationPrediction

        return ClassificationPrediction()

    def synthesize(self, output, options):
        from automl_video.tasks.classification.synth import generate

        return generate(output, **vars(options))


TASK = ClassificationTask()

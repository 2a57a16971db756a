"""Video action recognition (Vertex): the moments of short actions in time, from import to batch prediction."""

from automl_video.modeling.metadata import ModelType
from automl_video.tasks.action_recognition.annotations import ActionRules
from automl_video.tasks.base import Task


class ActionRecognitionTask(Task):
    """The parts are stateless: each call makes one (their modules, and TensorFlow, load on the first)."""

    prediction_type = "action_recognition"
    model_types = (ModelType.CLOUD, ModelType.MOBILE_VERSATILE_1)
    annotations = ActionRules()

    def networks(self):
        from automl_video.tasks.action_recognition.network import ActionNetworks

        return ActionNetworks()

    def training(self):
        from automl_video.tasks.action_recognition.training import ActionTraining

        return ActionTraining()

    def evaluator(self):
        from automl_video.tasks.action_recognition.evaluation import ActionEvaluator

        return ActionEvaluator()

    def prediction(self):
        from automl_video.tasks.action_recognition.prediction import ActionPrediction

        return ActionPrediction()

    def synthesize(self, output, options):
        from automl_video.tasks.action_recognition.synth import generate

        return generate(output, **vars(options))


TASK = ActionRecognitionTask()

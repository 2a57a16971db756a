"""The task table: which module implements each AutoML Video prediction type.

The generic engines (data, training, evaluation, prediction, modeling) ask :func:`get_task` for the
:class:`automl_video.tasks.base.Task` of a dataset's or model's prediction type and never import a
task's folder themselves. Modules load on first use, so reading a dataset never imports TensorFlow.
Adding a prediction type is one folder under ``tasks/`` and one entry in :data:`TASK_MODULES`.
"""

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from automl_video.tasks.base import Task

# Google's AutoML Video prediction types, in the order its documentation lists them.
PREDICTION_TYPES = ("classification", "object_tracking", "action_recognition")
DEFAULT_PREDICTION_TYPE = "classification"
# prediction type -> module whose ``TASK`` implements it.
TASK_MODULES = {
    "classification": "automl_video.tasks.classification",
    "object_tracking": "automl_video.tasks.object_tracking",
}


def get_task(prediction_type: str) -> "Task":
    """The task of ``prediction_type``; ValueError names the known and the implemented ones."""
    if prediction_type not in PREDICTION_TYPES:
        raise ValueError(f"prediction_type {prediction_type!r} is not one of {', '.join(PREDICTION_TYPES)}")
    if prediction_type not in TASK_MODULES:
        raise ValueError(
            f"prediction_type {prediction_type!r} is not yet supported by automl-video "
            f"(supported: {', '.join(TASK_MODULES)})"
        )
    return importlib.import_module(TASK_MODULES[prediction_type]).TASK

"""KFP v2 lightweight components, one per stage; each parses its inputs and calls one automl_video function.

Installed as ``automl_video_components``. Every component is declared on this release's image
(:mod:`automl_video.images`; the pipelines set the image of each task per run), computes nothing
when imported, installs nothing at run time and imports the library inside its body (the body is
all that travels to the task). Components know nothing of the pipelines that use them. Artifacts are folders
or files at the artifact's ``.path``: a local path under ``kfp.local``, the launcher's ``/gcs/...``,
``/minio/...`` or ``/s3/...`` mirror of the artifact URI on a cluster.
"""

from automl_video_components.batch_predict import batch_predict_shard, plan_prediction_shards
from automl_video_components.evaluate_model import evaluate_model
from automl_video_components.export_model import export_model
from automl_video_components.import_dataset import import_dataset
from automl_video_components.merge_predictions import merge_predictions
from automl_video_components.promote_model import promote_model
from automl_video_components.record_run import record_batch_prediction, record_run_end, record_training_run
from automl_video_components.split_dataset import split_dataset
from automl_video_components.train_model import train_model

__all__ = [
    "batch_predict_shard",
    "evaluate_model",
    "export_model",
    "import_dataset",
    "merge_predictions",
    "plan_prediction_shards",
    "promote_model",
    "record_batch_prediction",
    "record_run_end",
    "record_training_run",
    "split_dataset",
    "train_model",
]

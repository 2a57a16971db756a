"""KFP v2 lightweight components, one per stage; each parses its inputs and calls one automl_video function.

Every component runs on our image (``automl_video.pipeline_runner.default_image``; pipelines override it
per run), installs nothing at run time and imports the library inside its body. Artifacts are folders
or files at the artifact's ``.path``: a local path under ``kfp.local``, the launcher's ``/gcs/...``,
``/minio/...`` or ``/s3/...`` mirror of the artifact URI on a cluster.
"""

from components.batch_predict import batch_predict_shard, plan_prediction_shards
from components.evaluate_model import evaluate_model
from components.export_model import export_model
from components.import_dataset import import_dataset
from components.merge_predictions import merge_predictions
from components.promote_model import promote_model
from components.split_dataset import split_dataset
from components.train_model import train_model

__all__ = [
    "batch_predict_shard",
    "evaluate_model",
    "export_model",
    "import_dataset",
    "merge_predictions",
    "plan_prediction_shards",
    "promote_model",
    "split_dataset",
    "train_model",
]

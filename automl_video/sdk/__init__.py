"""A Vertex-style Python SDK over the registry: ``init``, ``VideoDataset``, ``AutoMLVideoTrainingJob``,
``Model`` (with evaluations, export, versions), ``BatchPredictionJob``.

Code written for ``google.cloud.aiplatform`` moves over by importing ``automl_video as aiplatform``::

    import automl_video as av

    av.init(project="my-project", location="local", staging_bucket="gs://my-bucket/automl")
    dataset = av.VideoDataset.create(display_name="moves", gcs_source="gs://my-bucket/import.csv")
    job = av.AutoMLVideoTrainingJob("moves-job", model_type="MOBILE_VERSATILE_1")
    model = job.run(dataset, training_fraction_split=0.8, test_fraction_split=0.2)
    model.batch_predict(gcs_source="gs://my-bucket/new.jsonl", gcs_destination_prefix="gs://my-bucket/out")

Importing this package does not import TensorFlow: the stages load when a job runs.
"""

from automl_video.registry import JobState, PipelineState
from automl_video.sdk.config import init
from automl_video.sdk.datasets import VideoDataset
from automl_video.sdk.jobs import BatchPredictionJob
from automl_video.sdk.models import Model, ModelEvaluation, ModelRegistry, VersionInfo
from automl_video.sdk.training import AutoMLVideoTrainingJob

__all__ = [
    "AutoMLVideoTrainingJob",
    "BatchPredictionJob",
    "JobState",
    "Model",
    "ModelEvaluation",
    "ModelRegistry",
    "PipelineState",
    "VersionInfo",
    "VideoDataset",
    "init",
]

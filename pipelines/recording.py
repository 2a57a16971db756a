"""What both DAGs share to record their runs: the record steps get KFP's run ID and name (filled in
at run time, kfp.local too) and never cache; the exit task records a run that fails or is cancelled."""

from typing import Any

from kfp import dsl
from kfp.dsl import PipelineTask

from automl_video_components import record_run_end
from automl_video_pipelines.resources import on_cpu
from automl_video_pipelines.settings import ClusterSettings

RUN_ID = dsl.PIPELINE_JOB_ID_PLACEHOLDER
RUN_NAME = dsl.PIPELINE_JOB_NAME_PLACEHOLDER


def record_step(component, settings: ClusterSettings, image, **arguments: Any) -> PipelineTask:
    """A task of a record component (:mod:`automl_video_components.record_run`) on the CPU image."""
    return on_cpu(component(**arguments, run_id=RUN_ID, run_name=RUN_NAME), settings, image, pure=False)


def failure_recorder(
    settings: ClusterSettings,
    image,
    *,
    pipeline: str,
    registry_url,
    inputs,
    predictions_prefix,
    prediction_type="",
    model_type="",
    model_uri="",
) -> PipelineTask:
    """The exit task of ``pipeline`` (``dsl.ExitHandler``): it sees only run parameters, never task outputs."""
    return record_step(
        record_run_end,
        settings,
        image,
        pipeline=pipeline,
        prediction_type=prediction_type,
        model_type=model_type,
        model_uri=model_uri,
        inputs=inputs,
        predictions_prefix=predictions_prefix,
        registry_url=registry_url,
    )

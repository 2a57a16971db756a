"""Record steps: what a pipeline run produced goes into the registry (:mod:`automl_video.records`).

Never cached (they write outside state). The registry URL is the run's ``registry_url`` parameter,
else ``AUTOML_VIDEO_REGISTRY_URL`` (on a cluster from the k8s/ config map or secret), else the local
default; ``off`` records nothing. Run ID and name come from KFP's placeholders, so every record of one
run carries the same ``kfp-run-id`` label.
"""

from typing import Any

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Model, Output

from automl_video.images import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, packages_to_install=[], install_kfp_package=False)
def record_training_run(
    dataset: Input[Dataset],
    model: Input[Model],
    evaluation: Input[Artifact],
    promotion: Input[Artifact],
    sources: list[str],
    dataset_display_name: str,
    model_display_name: str,
    model_labels: dict[str, str],
    registry_url: str,
    run_id: str,
    run_name: str,
    record: Output[Artifact],
):
    """Record the dataset, a training pipeline job and the model version with its evaluations (and its
    serving alias when the gate promoted it)."""
    from automl_video import records, storage
    from automl_video.stage import run_stage

    run = run_stage(
        records.record_training_run,
        records.PipelineRun("training", run_id, run_name, registry_url),
        records.TrainingRunOutputs(
            dataset_uri=dataset.uri,
            sources=sources,
            dataset_display_name=dataset_display_name,
            model_uri=model.uri,
            evaluations_uri=storage.join(evaluation.uri, "evaluations.json"),
            model_display_name=model_display_name,
            model_labels=model_labels,
            promotion=storage.read_json(promotion.path),
        ),
    )
    record.metadata.update(run.metadata)
    storage.write_json(record.path, record.metadata)


@dsl.component(base_image=CPU_IMAGE, packages_to_install=[], install_kfp_package=False)
def record_batch_prediction(
    model: Input[Model],
    predictions: Input[Artifact],
    inputs: list[str],
    predictions_prefix: str,
    params: dict[str, Any],
    shards: int,
    registry_url: str,
    run_id: str,
    run_name: str,
    record: Output[Artifact],
):
    """Record the batch prediction job (state, counts, output folder) of the model version it used."""
    from automl_video import records, storage
    from automl_video.stage import run_stage

    run = run_stage(
        records.record_batch_prediction_run,
        records.PipelineRun("batch-prediction", run_id, run_name, registry_url),
        records.BatchRunOutputs(
            model_uri=model.uri,
            inputs=inputs,
            predictions_prefix=predictions_prefix,
            model_parameters=params,
            shards=shards,
            result=storage.read_json(predictions.path),
        ),
    )
    record.metadata.update(run.metadata)
    storage.write_json(record.path, record.metadata)


@dsl.component(base_image=CPU_IMAGE, packages_to_install=[], install_kfp_package=False)
def record_run_end(
    status: dsl.PipelineTaskFinalStatus,
    pipeline: str,
    prediction_type: str,
    model_type: str,
    model_uri: str,
    inputs: list[str],
    predictions_prefix: str,
    registry_url: str,
    run_id: str,
    run_name: str,
):
    """The exit task: a run that failed or was cancelled is recorded so, with KFP's error."""
    import json
    import logging

    from automl_video import records

    record = records.record_run_end(
        records.PipelineRun(pipeline, run_id, run_name, registry_url),
        records.RunEnd(
            state=status.state,
            error_message=status.error_message,
            prediction_type=prediction_type,
            model_type=model_type,
            model_uri=model_uri,
            inputs=inputs,
            predictions_prefix=predictions_prefix,
        ),
    )
    logging.getLogger(__name__).info("run end recorded: %s", json.dumps(record.to_json()))

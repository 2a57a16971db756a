"""Training: import → split → train → evaluate → gate → record, then export (when the train task
reports an exportable model type) and batch prediction (when asked for); an exit task records a run
that fails."""

from typing import Any

from kfp import dsl

from automl_video_components import (
    evaluate_model,
    export_model,
    import_dataset,
    promote_model,
    record_training_run,
    split_dataset,
    train_model,
)
from automl_video_pipelines import TRAINING_PIPELINE
from automl_video_pipelines.arguments import TrainingArguments
from automl_video_pipelines.recording import failure_recorder, record_step
from automl_video_pipelines.resources import never_cached, on_cpu, on_gpu
from automl_video_pipelines.settings import ClusterSettings

_DEFAULTS = TrainingArguments(sources=[])


def build_training_pipeline(settings: ClusterSettings, predict_shards):
    """The ``training`` pipeline; its parameters mirror ``AutoMLVideoTrainingJob`` and its ``run``.

    Caching (:class:`ClusterSettings`): import reads whatever the sources match when the run starts,
    the gate reads the serving pointer, prediction and the record steps write outside their outputs,
    so they always run; a fresh import gives split, train and evaluate new inputs, so a scheduled run
    sees new data even with caching on.
    """

    @dsl.pipeline(
        name="automl-video-training",
        description="Import labelled video CSVs, split, train a video classifier, evaluate it, export it, "
        "promote it when it beats the serving model, record the run, and optionally batch-predict.",
    )
    def training_pipeline(
        sources: list[str],
        model_type: str = _DEFAULTS.model_type,
        prediction_type: str = _DEFAULTS.prediction_type,
        training_fraction_split: float = 0.0,
        test_fraction_split: float = 0.0,
        dataset_display_name: str = _DEFAULTS.dataset_display_name,
        model_display_name: str = _DEFAULTS.model_display_name,
        model_labels: dict[str, str] = _DEFAULTS.model_labels,
        budget_minutes: float = _DEFAULTS.budget_minutes,
        seed: int = _DEFAULTS.seed,
        exhaustive: bool = _DEFAULTS.exhaustive,
        max_error_fraction: float = _DEFAULTS.max_error_fraction,
        export_format: str = _DEFAULTS.export_format,
        serving_root: str = _DEFAULTS.serving_root,
        prediction_inputs: list[str] = _DEFAULTS.prediction_inputs,
        predictions_prefix: str = _DEFAULTS.predictions_prefix,
        prediction_params: dict[str, Any] = _DEFAULTS.prediction_params,
        prediction_shards: int = _DEFAULTS.prediction_shards,
        prediction_inference: str = _DEFAULTS.prediction_inference,
        registry_url: str = _DEFAULTS.registry_url,
        image: str = settings.cpu_image,
        gpu_image: str = settings.gpu_image,
    ):
        run_end = failure_recorder(
            settings,
            image,
            pipeline=TRAINING_PIPELINE,
            registry_url=registry_url,
            inputs=prediction_inputs,
            predictions_prefix=predictions_prefix,
            prediction_type=prediction_type,
            model_type=model_type,
        )
        with dsl.ExitHandler(run_end, name="record-failures"):
            imported = on_cpu(
                import_dataset(
                    sources=sources,
                    display_name=dataset_display_name,
                    exhaustive=exhaustive,
                    max_error_fraction=max_error_fraction,
                    prediction_type=prediction_type,
                ),
                settings,
                image,
                pure=False,
            )
            split = on_cpu(
                split_dataset(
                    dataset=imported.outputs["dataset"],
                    training_fraction=training_fraction_split,
                    test_fraction=test_fraction_split,
                    seed=seed,
                ),
                settings,
                image,
            )
            dataset = split.outputs["split"]
            trained = on_gpu(
                train_model(
                    dataset=dataset,
                    model_type=model_type,
                    budget_minutes=budget_minutes,
                    seed=seed,
                    model_display_name=model_display_name,
                    model_labels=model_labels,
                ),
                settings,
                gpu_image,
            )
            model = trained.outputs["model"]
            evaluated = on_cpu(evaluate_model(model=model, dataset=dataset), settings, image)
            with dsl.If(trained.outputs["Output"] == True, name="exportable"):  # noqa: E712 (a KFP condition)
                on_cpu(
                    export_model(model=model, dataset=dataset, export_format=export_format, quantize="none"),
                    settings,
                    image,
                )
            gate = on_cpu(
                promote_model(
                    model=model,
                    evaluation=evaluated.outputs["evaluation"],
                    au_prc=evaluated.outputs["Output"],
                    serving_root=serving_root,
                    model_display_name=model_display_name,
                ),
                settings,
                image,
                pure=False,
            )
            recorded = record_step(
                record_training_run,
                settings,
                image,
                dataset=dataset,
                model=model,
                evaluation=evaluated.outputs["evaluation"],
                promotion=gate.outputs["promotion"],
                sources=sources,
                dataset_display_name=dataset_display_name,
                model_display_name=model_display_name,
                model_labels=model_labels,
                registry_url=registry_url,
            )
            with dsl.If(predictions_prefix != "", name="predict"):
                never_cached(
                    predict_shards(
                        model=model,
                        inputs=prediction_inputs,
                        predictions_prefix=predictions_prefix,
                        prediction_params=prediction_params,
                        shards=prediction_shards,
                        inference=prediction_inference,
                        registry_url=registry_url,
                        image=image,
                        gpu_image=gpu_image,
                    ).after(recorded)  # its record names the model version recorded first
                )

    return training_pipeline

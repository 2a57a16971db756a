"""Training: import → split → train → evaluate, then export (when the train task reports an
exportable model type), the serving gate and batch prediction, each when asked for."""

from typing import Any

from kfp import dsl

from automl_video_components import (
    evaluate_model,
    export_model,
    import_dataset,
    promote_model,
    split_dataset,
    train_model,
)
from automl_video_pipelines.arguments import TrainingArguments
from automl_video_pipelines.resources import on_cpu, on_gpu
from automl_video_pipelines.settings import ClusterSettings

_DEFAULTS = TrainingArguments(sources=[])


def build_training_pipeline(settings: ClusterSettings, predict_shards):
    """The ``training`` pipeline; its parameters mirror ``AutoMLVideoTrainingJob`` and its ``run``."""

    @dsl.pipeline(
        name="automl-video-training",
        description="Import labelled video CSVs, split, train a video classifier, evaluate it, export it, "
        "promote it when it beats the serving model, and optionally batch-predict.",
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
        image: str = settings.cpu_image,
        gpu_image: str = settings.gpu_image,
    ):
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
        with dsl.If(trained.outputs["Output"] == True, name="exportable"):  # noqa: E712 (a KFP condition, not a bool)
            on_cpu(
                export_model(model=model, dataset=dataset, export_format=export_format, quantize="none"),
                settings,
                image,
            )
        with dsl.If(serving_root != "", name="gate"):
            on_cpu(
                promote_model(
                    model=model,
                    au_prc=evaluated.outputs["Output"],
                    serving_root=serving_root,
                    model_display_name=model_display_name,
                ),
                settings,
                image,
            )
        with dsl.If(predictions_prefix != "", name="predict"):
            predict_shards(
                model=model,
                inputs=prediction_inputs,
                predictions_prefix=predictions_prefix,
                prediction_params=prediction_params,
                shards=prediction_shards,
                image=image,
                gpu_image=gpu_image,
            )

    return training_pipeline

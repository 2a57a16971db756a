"""Training stage: a video classifier trained on the TRAIN/VALIDATION splits of a Dataset."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Model, Output

from automl_video.images import GPU_IMAGE


@dsl.component(base_image=GPU_IMAGE, packages_to_install=[], install_kfp_package=False)
def train_model(
    dataset: Input[Dataset],
    model_type: str,
    budget_minutes: float,
    seed: int,
    model_display_name: str,
    model_labels: dict[str, str],
    model: Output[Model],
) -> bool:
    """Train a ``model_type`` model within ``budget_minutes``; ``model_labels`` go on the Model artifact.

    Returns whether the model can be exported (``ModelType.exportable``): the pipeline's export step
    runs on that output, so the rule lives in one place. (An unnamed output, ``Output``: kfp.local's
    conditions resolve no other name of a task output.)
    """
    from automl_video.modeling.metadata import ModelType
    from automl_video.stage import run_stage
    from automl_video.training.engine import train

    run = run_stage(
        train,
        dataset.path,
        model.path,
        model_type=model_type,
        budget_minutes=budget_minutes,
        seed=seed,
        display_name=model_display_name,
    )
    model.metadata.update(run.metadata, model_labels=model_labels)
    return ModelType(run.result.model_type).exportable

"""Split stage: a copy of the imported Dataset with TRAIN/VALIDATION/TEST assigned."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Output

from automl_video.images import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, packages_to_install=[], install_kfp_package=False)
def split_dataset(
    dataset: Input[Dataset],
    training_fraction: float,
    test_fraction: float,
    seed: int,
    split: Output[Dataset],
):
    """Split a copy of ``dataset`` (input artifacts stay as they were); 0/0 fractions: AutoML's 80/20."""
    import shutil

    from automl_video.data.splits import split_dataset as split_videos
    from automl_video.stage import fractions_from_parameters, run_stage

    shutil.copytree(dataset.path, split.path, dirs_exist_ok=True)
    training, test = fractions_from_parameters(training_fraction, test_fraction)
    run = run_stage(split_videos, split.path, training_fraction=training, test_fraction=test, seed=seed)
    split.metadata.update(run.metadata)

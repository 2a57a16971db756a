"""Export stage: a MOBILE_* model as a TF SavedModel or TFLite file."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Model, Output

from automl_video.images import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, packages_to_install=[], install_kfp_package=False)
def export_model(
    model: Input[Model],
    dataset: Input[Dataset],
    export_format: str,
    quantize: str,
    exported_model: Output[Model],
):
    """Export ``model`` (``tf-saved-model`` or ``tflite``); ``dataset`` calibrates int8 quantization."""
    from automl_video.modeling.export import export_model as export
    from automl_video.stage import run_stage

    run = run_stage(export, model.path, export_format, exported_model.path, quantize=quantize, dataset_uri=dataset.path)
    exported_model.metadata.update(run.metadata)

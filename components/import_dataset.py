"""Import stage: the import files matching ``sources`` become a new Dataset artifact."""

from kfp import dsl
from kfp.dsl import Dataset, Output

from automl_video.images import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, packages_to_install=[], install_kfp_package=False)
def import_dataset(
    sources: list[str],
    display_name: str,
    exhaustive: bool,
    max_error_fraction: float,
    dataset: Output[Dataset],
    prediction_type: str = "classification",
):
    """Import every import file that ``sources`` (URIs, globs, prefixes/) match at run time."""
    from automl_video.data.importer import import_data
    from automl_video.data.sources import expand_sources
    from automl_video.stage import run_stage

    run = run_stage(
        import_data,
        expand_sources(sources),
        dataset.path,
        exhaustive,
        max_error_fraction,
        display_name,
        prediction_type,
    )
    dataset.metadata.update(run.metadata)

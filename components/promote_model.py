"""Gate stage: promote the new model to the serving root when its AU-PRC is at least the serving one's."""

from kfp import dsl
from kfp.dsl import Artifact, Input, Model, Output

from automl_video.images import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, packages_to_install=[], install_kfp_package=False)
def promote_model(
    model: Input[Model],
    evaluation: Input[Artifact],
    au_prc: float,
    serving_root: str,
    model_display_name: str,
    promotion: Output[Artifact],
) -> bool:
    """Copy ``model`` to ``<serving_root>/current`` if it is at least as good; returns whether it was.

    Never cached: it reads the serving pointer, which other runs change. Without a serving root it
    promotes nothing (the gate is off) and still reports, so the record step can follow it. The
    pointer names ``evaluation``'s URI, which is the earlier run's when the evaluation was a cache hit.
    """
    from automl_video import storage
    from automl_video.serving import promote_if_better
    from automl_video.stage import run_stage

    run = run_stage(
        promote_if_better,
        model.path,
        au_prc,
        serving_root,
        model_display_name,
        source_uri=model.uri,
        evaluations_uri=storage.join(evaluation.uri, "evaluations.json"),
    )
    storage.write_json(promotion.path, run.result.to_json())
    promotion.metadata.update(run.metadata)
    return run.result.promoted

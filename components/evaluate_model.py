"""Evaluation stage: AutoML evaluations plus the KFP metrics, ROC/confusion matrix and HTML report."""

from kfp import dsl
from kfp.dsl import HTML, Artifact, ClassificationMetrics, Dataset, Input, Metrics, Model, Output

from automl_video.images import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, packages_to_install=[], install_kfp_package=False)
def evaluate_model(
    model: Input[Model],
    dataset: Input[Dataset],
    evaluation: Output[Artifact],
    metrics: Output[Metrics],
    classification_metrics: Output[ClassificationMetrics],
    report: Output[HTML],
) -> float:
    """Evaluate ``model`` on the TEST split of ``dataset``; returns the task's headline score (for the gate)."""
    import shutil

    from automl_video import storage
    from automl_video.evaluation import evaluate
    from automl_video.stage import run_stage

    run = run_stage(evaluate, model.path, dataset.path, evaluation.path)
    result = run.result
    evaluation.metadata.update(run.metadata)
    for name, value in storage.read_json(result.metrics_uri).items():
        metrics.log_metric(name, value)
    if "pr_curve" in result.files:  # a task without a ROC curve (object tracking) logs its scalars alone
        curve = storage.read_json(result.files["pr_curve"])
        classification_metrics.log_roc_curve(
            curve["false_positive_rate"], curve["true_positive_rate"], curve["thresholds"]
        )
    if "confusion_matrix" in result.files:
        matrix = storage.read_json(result.files["confusion_matrix"])
        classification_metrics.log_confusion_matrix(matrix["categories"], matrix["matrix"])
    shutil.copyfile(result.report_uri, report.path)
    return result.score

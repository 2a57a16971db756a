"""automl-video: self-hosted AutoML Video (import, split, train, evaluate, export, batch predict)."""

__version__ = "0.1.0"

# The Vertex-style SDK (``import automl_video as av; av.init(...)``), loaded on first use so that
# importing any automl_video module stays as light as before (no SQLAlchemy, no TensorFlow).
_SDK_NAMES = (
    "AutoMLVideoTrainingJob",
    "BatchPredictionJob",
    "JobState",
    "Model",
    "ModelEvaluation",
    "ModelRegistry",
    "PipelineState",
    "VersionInfo",
    "VideoDataset",
    "init",
)


def __getattr__(name: str):
    if name in _SDK_NAMES:
        from automl_video import sdk

        return getattr(sdk, name)
    raise AttributeError(f"module 'automl_video' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_SDK_NAMES])

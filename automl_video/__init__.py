"""automl-video: self-hosted AutoML Video (import, split, train, evaluate, export, batch predict)."""

import importlib
import importlib.util
import os

__version__ = "0.1.0"

# TensorFlow's C++ start-up lines (oneDNN, absl, CUDA probing) are noise on a terminal and in task
# logs; set before anything imports TensorFlow, which every entry point reaches through this package.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


# The Vertex-style SDK (``import automl_video as av; av.init(...)``): the names of
# ``automl_video.sdk.__all__``, loaded on first use so that importing any automl_video module stays as
# light as before (no SQLAlchemy, no TensorFlow).
def __getattr__(name: str):
    # ``from automl_video import storage`` asks for a submodule here before importing it: that, and
    # private names, must not load the SDK.
    if not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is None:
        sdk = importlib.import_module(f"{__name__}.sdk")
        if name in sdk.__all__:
            return getattr(sdk, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *importlib.import_module(f"{__name__}.sdk").__all__])

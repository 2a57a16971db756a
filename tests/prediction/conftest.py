"""The prediction tests' tiny model and videos."""

from tests.prediction_support import tiny_model, videos  # noqa: F401  (fixtures used by name)

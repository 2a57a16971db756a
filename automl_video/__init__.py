"""automl-video: self-hosted AutoML Video (import, split, train, evaluate, export, batch predict)."""

__version__ = "0.1.0"

"""The registry's tables as the migrations leave them (see :mod:`.migrations`)."""

from automl_video.registry.migrations import build_metadata

metadata = build_metadata()
id_counters = metadata.tables["id_counters"]
retired_names = metadata.tables["retired_names"]
datasets = metadata.tables["datasets"]
models = metadata.tables["models"]
model_versions = metadata.tables["model_versions"]
model_aliases = metadata.tables["model_aliases"]
model_evaluations = metadata.tables["model_evaluations"]
training_pipelines = metadata.tables["training_pipelines"]
batch_prediction_jobs = metadata.tables["batch_prediction_jobs"]
operations = metadata.tables["operations"]

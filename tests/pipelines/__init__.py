"""Tests of automl_video_pipelines: compiled DAGs, kfp.local runs, submit and schedule."""

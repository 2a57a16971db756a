"""Tests of automl_video.pipelines: compiled DAGs, kfp.local runs, submit and schedule."""

"""Tests of automl_video.components."""

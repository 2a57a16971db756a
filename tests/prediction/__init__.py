"""Tests of automl_video.prediction."""

"""Tests of automl_video.data."""

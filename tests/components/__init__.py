"""Tests of automl_video_components."""

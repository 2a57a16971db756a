"""Tests of the Vertex-style SDK (automl_video.sdk)."""

"""The action recognition tests' synthetic dataset and tiny published model."""

import pytest

from tests.tasks.action_recognition.support import ACTION_SPEC, publish_action_model


@pytest.fixture(scope="session")
def action_synth(tmp_path_factory):
    """A small deterministic action dataset (jump and spin among distractors), generated once per session."""
    from automl_video.tasks.action_recognition import synth as action_synth_lib

    out = tmp_path_factory.mktemp("action_synth")
    return action_synth_lib.generate(
        str(out), classes=2, videos_per_class=5, seconds=3.0, seed=5, width=64, height=64, fps=10
    )


@pytest.fixture(scope="session")
def action_model(tmp_path_factory) -> str:
    """A published MOBILE_VERSATILE_1 action model: the real network, untrained, deterministic weights."""
    return publish_action_model(tmp_path_factory.mktemp("action_model"), ACTION_SPEC)

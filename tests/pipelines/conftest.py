"""The pipelines tests' fake KFP API server."""

from tests.kfp_fake import kfp_server  # noqa: F401  (a fixture used by name)

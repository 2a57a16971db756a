"""The AutoML v1beta1 surface: ``/v1beta1/…`` as ``google-cloud-automl``'s ``AutoMlClient`` and
``PredictionServiceClient`` call it (``transport="rest"``)."""

from dataclasses import dataclass, field

from automl_video.server.automl import handlers, kinds, resources
from automl_video.server.operations import operation_routes
from automl_video.server.surface import OperationKind, Route


@dataclass(frozen=True)
class AutoMLSurface:
    api: str = resources.API
    prefix: str = resources.PREFIX
    routes: list[Route] = field(
        default_factory=lambda: (
            handlers.ROUTES + operation_routes(resources.PREFIX, resources.API, resources.render_operation)
        )
    )
    operation_kinds: dict[str, OperationKind] = field(
        default_factory=lambda: {k.value: v for k, v in kinds.KINDS.items()}
    )


SURFACE = AutoMLSurface()

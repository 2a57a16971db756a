"""The Vertex AI v1 surface: ``/v1/…`` as ``google-cloud-aiplatform``'s SDK (``aiplatform.init(api_endpoint=…,
api_transport="rest")``) calls it for ``VideoDataset``, ``AutoMLVideoTrainingJob``, ``Model`` and
``BatchPredictionJob``; its operations also under ``/ui/…``, where the SDK's REST operations client polls.

It needs ``google-cloud-aiplatform`` (the ``vertex`` extra) for its protos; the server serves it when
that is installed (:data:`automl_video.server.surface.SURFACE_MODULES`).
"""

from dataclasses import dataclass, field

from automl_video.server.operations import operation_routes
from automl_video.server.surface import OperationKind, Route
from automl_video.server.vertex import handlers, kinds, resources


@dataclass(frozen=True)
class VertexSurface:
    api: str = resources.API
    prefix: str = resources.PREFIX
    routes: list[Route] = field(
        default_factory=lambda: (
            handlers.ROUTES
            + [
                route
                for prefix in resources.OPERATIONS_PREFIXES
                for route in operation_routes(prefix, resources.API, resources.render_operation)
            ]
        )
    )
    operation_kinds: dict[str, OperationKind] = field(
        default_factory=lambda: {k.value: v for k, v in kinds.KINDS.items()}
    )


SURFACE = VertexSurface()

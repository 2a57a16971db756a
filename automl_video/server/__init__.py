"""The REST server face: Google's own AutoML client (``google-cloud-automl``, ``transport="rest"``) runs
unchanged against it.

``automl-video serve`` (:mod:`automl_video.cli.serve`) builds a :class:`~.surface.ServerContext` and the
application (:func:`~.app.create_app`) from its surfaces (:data:`~.surface.SURFACE_MODULES`, AutoML
v1beta1 today); operations run in worker processes (:mod:`.dispatcher`, :mod:`.worker`) with their
state in the registry.
"""

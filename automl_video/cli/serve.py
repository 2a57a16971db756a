"""``automl-video serve``: the AutoML v1beta1 REST server (Starlette on uvicorn)."""

import argparse
import logging
import os

from automl_video import storage
from automl_video.cli import UsageError
from automl_video.modeling.metadata import ModelType
from automl_video.registry.database import DEFAULT_FILE

log = logging.getLogger("automl_video.server")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve the AutoML v1beta1 REST API (google-cloud-automl's clients run unchanged against it)",
        description=(
            "Serve the AutoML v1beta1 REST API. Point existing code at it with transport='rest' and "
            "client_options={'api_endpoint': 'http://HOST:PORT', 'api_key': KEY}."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind; another than loopback needs --api-keys")
    parser.add_argument("--port", type=int, default=8080, help="TCP port")
    parser.add_argument(
        "--workspace",
        default=os.path.join(os.path.expanduser("~"), ".automl-video", "server"),
        help="where datasets, models, predictions and exports live (any fsspec URL)",
    )
    parser.add_argument("--registry", help="registry URL (default SQLite under the workspace; postgresql+psycopg2://…)")
    parser.add_argument(
        "--allowed-root",
        action="append",
        default=[],
        metavar="URL",
        help="a location inputs may be read from and outputs written to (repeatable; default: the workspace)",
    )
    parser.add_argument("--api-keys", metavar="FILE", help='JSON {"KEY": ["project", ...]}; without it: loopback only')
    parser.add_argument(
        "--locations", nargs="+", default=["us-central1"], metavar="LOCATION", help="location IDs served"
    )
    parser.add_argument(
        "--train-budget-minutes", type=float, default=60.0, help="training budget of CreateModel in minutes"
    )
    parser.add_argument(
        "--model-type",
        default="MOBILE_VERSATILE_1",
        choices=[t.value for t in ModelType],
        metavar="MODEL_TYPE",
        help="model type CreateModel trains (v1beta1 has no field for it): " + ", ".join(t.value for t in ModelType),
    )
    parser.add_argument(
        "--backend",
        default="local",
        help="where operations run: local (this machine) or kfp:HOST (a KFP API server URL)",
    )
    parser.add_argument("--max-workers", type=int, default=2, help="operations this server runs at once")
    parser.add_argument("--max-running-per-project", type=int, default=2, help="running operations per project")
    parser.add_argument(
        "--max-queued-per-project", type=int, default=100, help="operations waiting per project before 429"
    )
    parser.add_argument("--max-body-bytes", type=int, default=1 << 20, help="request body limit (413 past it)")
    parser.add_argument(
        "--lease-seconds", type=float, default=15.0, help="an operation whose worker is silent this long is run again"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted; a refused configuration (flags that do not fit together, a bad
    --api-keys file) is a usage error, exit status 2."""
    from automl_video.server.config import ConfigError

    try:
        return _serve(args)
    except ConfigError as e:
        raise UsageError(str(e)) from e


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from automl_video.registry import Registry
    from automl_video.registry.operations import new_lease_owner
    from automl_video.server.app import REQUEST_THREADS, create_app
    from automl_video.server.config import ApiKeys, ConfigError, ServerConfig
    from automl_video.server.roots import AllowedRoots
    from automl_video.server.surface import SURFACE_MODULES, ServerContext, load_surface

    workspace = args.workspace if "://" in args.workspace else os.path.abspath(args.workspace)
    storage.makedirs(workspace)
    if args.registry is None and not storage.is_local(workspace):
        raise ConfigError(f"--workspace {workspace} is not local: give --registry (SQLite needs a local file)")
    registry_url = args.registry or f"sqlite:///{os.path.join(storage.local_path(workspace), DEFAULT_FILE)}"
    roots = AllowedRoots.of(args.allowed_root or [workspace])
    if not roots.allows(storage.join(workspace, "x")):
        raise ConfigError(f"--workspace {workspace} must be under an --allowed-root ({', '.join(roots.roots)})")
    keys = ApiKeys.load(args.api_keys)
    config = ServerConfig(
        workspace=workspace,
        registry_url=registry_url,
        allowed_roots=roots.roots,
        host=args.host,
        port=args.port,
        locations=tuple(args.locations),
        train_budget_minutes=args.train_budget_minutes,
        model_type=args.model_type,
        backend=args.backend,
        max_running_per_project=args.max_running_per_project,
        max_queued_per_project=args.max_queued_per_project,
        max_workers=args.max_workers,
        max_body_bytes=args.max_body_bytes,
        lease_seconds=args.lease_seconds,
    )
    warning = config.check_binding(keys)
    if warning:
        log.warning("%s", warning)
    registry = Registry(registry_url, connections=REQUEST_THREADS + 2)  # + the dispatcher and health probe
    server = ServerContext(config, keys, roots, registry)
    app = create_app(server, [load_surface(api) for api in SURFACE_MODULES], new_lease_owner())
    log.info(
        "serving %s on http://%s:%d (workspace %s, registry %r)",
        ", ".join(SURFACE_MODULES),
        args.host,
        args.port,
        workspace,
        registry,
    )
    uvicorn.run(app, host=args.host, port=args.port, access_log=False, log_config=None)
    registry.close()
    return 0

"""The ``automl-video`` command: one sub-command group per stage, each in its own module.

Every command takes ``--json`` (machine-readable result on stdout); logs and progress go to stderr.
A user error exits with status 2 and one line on stderr naming what is wrong.
"""

import argparse
import importlib
import json
import sys
from collections.abc import Callable
from typing import Any

from automl_video.errors import AutoMLVideoError
from automl_video.progress import setup_logging

# Each module defines ``register(subparsers)`` adding its commands; a command's handler is stored as
# ``func`` and returns a JSON-serialisable result (or None) that :func:`emit` prints.
COMMAND_MODULES = (
    "synth",
    "dataset",
    "train",
    "evaluate",
    "export",
    "predict",
    "pipeline",
    "demo",
    "registry",
    "serve",
)

USER_ERRORS = (AutoMLVideoError, ValueError, FileNotFoundError, PermissionError)


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the result as JSON on stdout")


def emit(result: Any, as_json: bool, human: Callable[[Any], str] | None = None) -> None:
    """Print a command's result: JSON with ``--json``, else ``human(result)`` or indented JSON."""
    if result is None:
        return
    if as_json or human is None:
        print(json.dumps(result, indent=None if as_json else 2, default=str))
    else:
        print(human(result))


def build_parser() -> argparse.ArgumentParser:
    from automl_video import __version__

    parser = argparse.ArgumentParser(prog="automl-video", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"automl-video {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"automl_video.cli.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    try:
        result = args.func(args)
    except USER_ERRORS as e:
        print(f"automl-video: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("automl-video: interrupted", file=sys.stderr)
        return 130
    if isinstance(result, int):
        return result
    return 0


if __name__ == "__main__":
    sys.exit(main())

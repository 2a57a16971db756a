"""The ``automl-video`` command: one sub-command group per stage, each in its own module.

Every command takes ``--json`` (machine-readable result on stdout); logs and progress go to stderr.
Exit status: 0 done; 1 the command failed while running (bad input data, a missing file, an
unreachable server: one line on stderr names what and why); 2 the command line is wrong (argparse's
own errors, and a flag value the command refuses); 130 interrupted (Ctrl-C).
"""

import argparse
import importlib
import json
import logging
import sys
import time
from collections.abc import Callable
from typing import Any

from automl_video.errors import AutoMLVideoError
from automl_video.progress import setup_logging

log = logging.getLogger("automl_video.cli")
_STARTED = time.monotonic()  # this module loads first: "done in" covers the whole command
# A command quicker than this says nothing about its time (listing the registry, --help).
_TIMED_SECONDS = 1.0

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

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

EPILOG = (
    "Exit status: 0 done, 1 failed while running, 2 wrong command line, 130 interrupted. "
    "Secrets come from the environment or files, never flags (the command line shows in ps)."
)


class UsageError(ValueError):
    """The command line is wrong (exit status 2): a flag value or combination the command refuses."""


# Failures of a command that ran (exit status 1): input data, files, state, servers. A plain ValueError
# is a refused argument value (the library's functions check theirs), so a usage error.
RUNTIME_ERRORS = (AutoMLVideoError, OSError)


class HelpFormatter(argparse.HelpFormatter):
    """argparse's help with each flag's default appended, unless the help already says it or the
    default is "unset" (None, False, empty)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        help_text = action.help or ""
        default = action.default
        if "default" in help_text or not action.option_strings or is_unset(default):
            return help_text
        return f"{help_text} (default: %(default)s)"


def is_unset(default: Any) -> bool:
    """A flag default that means "not given" (a 0 is a value: ``0 == False`` must not hide it)."""
    return default is None or default is False or default is argparse.SUPPRESS or default in ("", [])


class Parser(argparse.ArgumentParser):
    """Every parser of the command (sub-commands inherit the class): defaults shown, one epilog, and no
    abbreviated flags (``--token`` must not pass for ``--token-file``; a new flag must not break a script)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("epilog", EPILOG)
        super().__init__(*args, **kwargs)


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


def build_parser() -> Parser:
    from automl_video import __version__

    parser = Parser(
        prog="automl-video",
        description="Self-hosted AutoML Video: import labelled videos, train, evaluate, export and "
        "batch-predict, on this machine or a Kubeflow cluster. 'automl-video demo' runs it all on "
        "generated videos.",
    )
    parser.add_argument("--version", action="version", version=f"automl-video {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"automl_video.cli.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    started = _STARTED if argv is None else time.monotonic()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version (0) and argparse's usage errors (2)
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    setup_logging(args.verbose)
    try:
        result = args.func(args)
    except KeyboardInterrupt:
        print("automl-video: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except RUNTIME_ERRORS as e:
        print(f"automl-video: error: {e}", file=sys.stderr)
        return EXIT_FAILED
    except ValueError as e:
        print(f"automl-video: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    elapsed = time.monotonic() - started
    log.log(logging.INFO if elapsed >= _TIMED_SECONDS else logging.DEBUG, "%s: done in %.1fs", args.command, elapsed)
    if isinstance(result, int):
        return result
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())

"""The command's conventions: help for users on every command and flag, defaults shown, choices
declared; --version; exit statuses 0/1/2/130; secrets never on the command line; TensorFlow's start-up
noise hidden; a warning for local paths given to a cluster run."""

import argparse
import os
import re
import subprocess
import sys

import pytest

from automl_video import __version__, cli
from automl_video.cli import pipeline as pipeline_cli


def walk(parser: argparse.ArgumentParser, path: tuple[str, ...] = ("automl-video",)):
    """Every parser of the command tree, with its command path."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from walk(sub, path + (name,))


COMMANDS = list(walk(cli.build_parser()))


def test_the_walk_reaches_every_command():
    paths = {" ".join(path[1:]) for path, _ in COMMANDS}
    assert {"train", "dataset import", "pipeline run", "pipeline submit", "models get", "serve", "demo"} <= paths
    assert len(paths) > 25


@pytest.mark.parametrize("path,parser", COMMANDS, ids=[" ".join(p[1:]) or "automl-video" for p, _ in COMMANDS])
def test_help_reads_cleanly(path, parser, capsys):
    assert cli.main([*path[1:], "--help"]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"usage: {' '.join(path)}")
    assert "`" not in text, "RST backticks: help is for users, not a docstring"
    assert ":mod:" not in text and ":func:" not in text
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction | argparse._SubParsersAction) or action.help == argparse.SUPPRESS:
            continue
        name = "/".join(action.option_strings) or action.dest
        assert action.help, f"{' '.join(path)} {name} has no help"
        if action.choices is not None and not isinstance(action, argparse._SubParsersAction):
            # argparse lists the choices itself, unless a metavar stands for them: then the help must
            assert action.metavar is None or all(str(c) in " ".join(text.split()) for c in action.choices), name
        if action.option_strings and not cli.is_unset(action.default):
            shown = parser._get_formatter()._expand_help(action)  # the text --help prints for the flag
            assert "default" in shown, f"{' '.join(path)} {name}: default not shown"
    if len(path) > 1:
        assert "Exit status: 0 done, 1 failed while running, 2 wrong command line, 130 interrupted" in " ".join(
            text.split()
        )


def test_allowed_values_are_choices(capsys):
    cli.main(["train", "--help"])
    train_help = capsys.readouterr().out
    assert "MOBILE_JETSON_LOW_LATENCY_1" in train_help
    assert cli.main(["export", "--model", "m", "--format", "onnx", "--output", "o"]) == 2
    assert "invalid choice: 'onnx' (choose from 'tf-saved-model', 'tflite')" in capsys.readouterr().err
    assert cli.main(["pipeline", "run", "--model-type", "BIG"]) == 2


def test_a_zero_default_is_shown(capsys):
    cli.main(["synth", "--help"])
    assert "same seed, byte-identical videos (default: 0)" in " ".join(capsys.readouterr().out.split())


def test_version(capsys):
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"automl-video {__version__}"


def test_exit_statuses(tmp_path, capsys):
    assert cli.main(["train", "--no-such-flag"]) == 2  # argparse's own usage error
    assert cli.main(["synth", "--output", str(tmp_path), "--classes", "99"]) == 2  # a value the command refuses
    assert cli.main(["dataset", "describe", "--dataset", str(tmp_path / "absent")]) == 1  # failed while running
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("automl-video: error: ") and "absent" in err[-1]


def test_ctrl_c_exits_130(tmp_path):
    """A real SIGINT to a real command process, while it runs (as a terminal's Ctrl-C: a test runner
    started as a background job passes SIGINT on ignored, so the process takes the default back)."""
    script = (
        "import os, signal, threading, sys\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "from automl_video import cli, synth\n"
        "threading.Timer(3.0, os.kill, (os.getpid(), signal.SIGINT)).start()\n"
        f"sys.exit(cli.main(['synth', '--output', {str(tmp_path)!r}, '--videos-per-class', '500']))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 130 and "automl-video: interrupted" in done.stderr


def test_pipeline_run_is_local_by_default():
    args = cli.build_parser().parse_args(["pipeline", "run", "--source", "data.csv"])
    assert args.func.__name__ == "_run_local"


def test_pipeline_inference_flag_reaches_both_pipelines_parameters():
    parser = cli.build_parser()
    base = ["pipeline", "run", "--source", "data.csv", "--predict-input", "in.csv", "--predictions-prefix", "out/"]
    assert pipeline_cli.pipeline_parameters(parser.parse_args(base))["prediction_inference"] == "auto"
    args = parser.parse_args(base + ["--inference", "litert-float"])
    assert pipeline_cli.pipeline_parameters(args)["prediction_inference"] == "litert-float"
    batch = base + ["--pipeline", "batch-prediction", "--model", "m/", "--inference", "keras"]
    assert pipeline_cli.pipeline_parameters(parser.parse_args(batch))["inference"] == "keras"


def test_the_kfp_token_comes_from_a_file_or_the_environment(tmp_path, monkeypatch, capsys):
    parser = cli.build_parser()
    assert cli.main(["pipeline", "submit", "--host", "http://kfp", "--source", "gs://b/i.csv", "--token", "x"]) == 2
    assert "unrecognized arguments: --token x" in capsys.readouterr().err  # not even as an abbreviation
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    args = parser.parse_args(["pipeline", "submit", "--host", "http://kfp", "--token-file", str(token_file)])
    monkeypatch.setenv(pipeline_cli.TOKEN_ENV, "from-env")
    assert pipeline_cli._target(args).token == "from-file"
    args = parser.parse_args(["pipeline", "submit", "--host", "http://kfp"])
    assert pipeline_cli._target(args).token == "from-env"


def test_local_paths_sent_to_a_cluster_are_warned_about(tmp_path, caplog):
    args = cli.build_parser().parse_args(
        ["pipeline", "submit", "--host", "http://kfp", "--source", str(tmp_path / "import.csv")]
        + ["--source", "gs://bucket/import.csv", "--serving-root", "./serving", "--pipeline-root", "gs://b/root"]
    )
    warnings = pipeline_cli.warn_about_local_paths(args)
    assert len(warnings) == 2
    assert warnings[0].startswith(f"--source {tmp_path}/import.csv is a local path: the cluster's pods")
    assert warnings[1].startswith("--serving-root ./serving is a local path")
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == warnings


def test_tensorflow_start_up_lines_are_hidden():
    """The first TensorFlow import in a CLI process prints none of its C++ start-up notices."""
    script = (
        "import logging, sys\n"
        "from automl_video.progress import setup_logging\n"
        "setup_logging()\n"
        "logging.getLogger('automl_video').info('ours first')\n"
        "import tensorflow as tf\n"
        "tf.constant(1.0) + 1\n"
        "print('stderr works after the import', file=sys.stderr)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.strip().splitlines()
    assert re.search(r"INFO automl_video: ours first$", lines[0])
    assert lines[1:] == ["stderr works after the import"], lines

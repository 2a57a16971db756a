"""The layout as installed and imported: every package folder installed (``components/`` and
``pipelines/`` as ``automl_video_components`` and ``automl_video_pipelines``), no import circle, and
the library importable without kfp. Which layer may import which is ``lint-imports``' job
(``[tool.importlinter]`` in pyproject.toml), run by ``.ci/run``.
"""

import ast
import os
import subprocess
import sys
import tomllib

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIBRARY = os.path.join(REPO, "automl_video")


def python_files(folder: str) -> list[str]:
    return sorted(
        os.path.join(root, name) for root, _, names in os.walk(folder) for name in names if name.endswith(".py")
    )


def imported_modules(path: str) -> set[str]:
    """Every module a file imports, at its top or inside functions."""
    modules = set()
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read(), path)):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


def test_every_package_folder_is_installed_under_automl_video():
    with open(os.path.join(REPO, "pyproject.toml"), "rb") as f:
        setuptools = tomllib.load(f)["tool"]["setuptools"]
    assert setuptools["package-dir"] == {"automl_video_components": "components", "automl_video_pipelines": "pipelines"}
    found = {
        os.path.relpath(root, REPO).replace(os.sep, ".")
        for root, _, names in os.walk(LIBRARY)
        if "__init__.py" in names and "__pycache__" not in root
    }
    assert set(setuptools["packages"]) == found | {"automl_video_components", "automl_video_pipelines"}, (
        "pyproject.toml [tool.setuptools] packages must list every package folder"
    )


def test_nothing_imports_the_folders_by_their_old_top_level_names():
    offenders = {}
    for folder in ("automl_video", "components", "pipelines", "tests", "benchmarks"):
        for path in python_files(os.path.join(REPO, folder)):
            found = [m for m in imported_modules(path) if m.split(".")[0] in ("components", "pipelines")]
            if found:
                offenders[os.path.relpath(path, REPO)] = found
    assert offenders == {}


@pytest.mark.parametrize(
    "code",
    [
        "import automl_video_components; import automl_video_pipelines; import automl_video_pipelines.compiling",
        "import automl_video_pipelines.training; import automl_video_components",
    ],
)
def test_no_import_circle(code):
    imported = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/")
    assert imported.returncode == 0, imported.stderr


def test_every_library_module_is_under_the_kfp_contract():
    """A new module of the library (anything in automl_video/ but the faces and the package's own
    ``__init__``/``__main__``) is listed in the contract that keeps kfp out, so none slips past it."""
    with open(os.path.join(REPO, "pyproject.toml"), "rb") as f:
        contracts = tomllib.load(f)["tool"]["importlinter"]["contracts"]
    listed = set(next(c for c in contracts if "kfp" in c.get("forbidden_modules", []))["source_modules"])
    faces = {"automl_video.cli", "automl_video.sdk", "automl_video.server"}
    modules = {
        f"automl_video.{os.path.splitext(name)[0]}"
        for name in os.listdir(LIBRARY)
        if (name.endswith(".py") and name not in ("__init__.py", "__main__.py"))
        or os.path.isfile(os.path.join(LIBRARY, name, "__init__.py"))
    }
    assert modules - faces - listed == set()


def test_the_library_and_the_pipeline_arguments_import_without_kfp():
    code = (
        "import sys, automl_video.serving, automl_video.stage, automl_video.data.sources, "
        "automl_video.prediction.shards, automl_video_pipelines.arguments, automl_video_pipelines.settings; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'kfp'))"
    )
    imported = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/")
    assert imported.stdout.strip() == "[]"


def test_validating_pipeline_arguments_loads_no_tensorflow():
    """The CLI and the SDK validate pipeline parameters in the submitting process: that must stay light."""
    code = (
        "import sys; from automl_video_pipelines.arguments import TrainingArguments; "
        "TrainingArguments(sources=['gs://b/import.csv'], model_type='MOBILE_VERSATILE_1').parameters(); "
        "print(sorted(m for m in ('tensorflow', 'keras', 'kfp') if m in sys.modules))"
    )
    imported = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/")
    assert imported.stdout.strip() == "[]"

"""The layout's rules: what is installed where, and which layer may import which.

The library (``automl_video/`` but its faces ``cli/`` and ``sdk/``) never imports kfp nor the
Kubeflow layer; the components never import the pipelines; everything installs under
``automl_video`` (``components/`` and ``pipelines/`` as ``automl_video.components`` and
``automl_video.pipelines``).
"""

import ast
import os
import subprocess
import sys
import tomllib

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIBRARY = os.path.join(REPO, "automl_video")
FACES = ("cli", "sdk")
KUBEFLOW_LAYER = ("kfp", "kfp_server_api", "automl_video.components", "automl_video.pipelines")


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


def imports_any(path: str, prefixes: tuple[str, ...]) -> list[str]:
    return sorted(m for m in imported_modules(path) if any(m == p or m.startswith(p + ".") for p in prefixes))


def test_every_package_folder_is_installed_under_automl_video():
    with open(os.path.join(REPO, "pyproject.toml"), "rb") as f:
        setuptools = tomllib.load(f)["tool"]["setuptools"]
    assert setuptools["package-dir"] == {"automl_video.components": "components", "automl_video.pipelines": "pipelines"}
    found = {
        os.path.relpath(root, REPO).replace(os.sep, ".")
        for root, _, names in os.walk(LIBRARY)
        if "__init__.py" in names and "__pycache__" not in root
    }
    assert set(setuptools["packages"]) == found | {"automl_video.components", "automl_video.pipelines"}, (
        "pyproject.toml [tool.setuptools] packages must list every package folder"
    )


def test_the_library_below_the_faces_never_imports_the_kubeflow_layer():
    offenders = {}
    for path in python_files(LIBRARY):
        if os.path.relpath(path, LIBRARY).split(os.sep)[0] in FACES:
            continue
        if found := imports_any(path, KUBEFLOW_LAYER):
            offenders[os.path.relpath(path, REPO)] = found
    assert offenders == {}


def test_components_import_no_pipeline():
    offenders = {
        os.path.relpath(path, REPO): found
        for path in python_files(os.path.join(REPO, "components"))
        if (found := imports_any(path, ("automl_video.pipelines", "pipelines")))
    }
    assert offenders == {}


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
        "import automl_video.components; import automl_video.pipelines; import automl_video.pipelines.compiling",
        "import automl_video.pipelines.training; import automl_video.components",
    ],
)
def test_no_import_circle(code):
    imported = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/")
    assert imported.returncode == 0, imported.stderr


def test_the_library_and_the_pipeline_arguments_import_without_kfp():
    code = (
        "import sys, automl_video.serving, automl_video.stage, automl_video.data.sources, "
        "automl_video.prediction.shards, automl_video.pipelines.arguments, automl_video.pipelines.settings; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'kfp'))"
    )
    imported = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/")
    assert imported.stdout.strip() == "[]"

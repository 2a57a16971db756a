#!/usr/bin/env bash
# Build the automl-video images (CPU and GPU), optionally push them, and compile the pipelines for them.
#
#   ./build.sh                   compile pipelines, then build and tag both images
#   ./build.sh --push            ... and push them
#   ./build.sh --pipelines-only  compile pipelines only (no container engine needed)
#
# Options: --registry REG (default $AUTOML_VIDEO_REGISTRY or ghcr.io/automl-video), --tag TAG (default
# the package version), --engine docker|podman (default $CONTAINER_ENGINE, else whichever answers),
# --output DIR (compiled pipelines, default build/pipelines).
# The pipelines are compiled first, always, with the image names being built as their defaults.
# Exit status: 0 done, 2 bad usage, 3 no working container engine, other: the failing step's status.
set -euo pipefail
cd "$(dirname "$0")"

registry="${AUTOML_VIDEO_REGISTRY:-ghcr.io/automl-video}"
tag=""
engine="${CONTAINER_ENGINE:-}"
output="build/pipelines"
push=false
pipelines_only=false

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --push) push=true ;;
    --pipelines-only) pipelines_only=true ;;
    --registry) registry="${2:?--registry needs a value}"; shift ;;
    --tag) tag="${2:?--tag needs a value}"; shift ;;
    --engine) engine="${2:?--engine needs a value}"; shift ;;
    --output) output="${2:?--output needs a value}"; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "build.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

if [[ -x .venv/bin/python ]]; then python="${PYTHON:-.venv/bin/python}"; else python="${PYTHON:-python3}"; fi
if [[ -z "$tag" ]]; then
  tag="$("$python" -c 'import automl_video; print(automl_video.__version__)')"
fi
cpu_image="${registry}/automl-video-cpu:${tag}"
gpu_image="${registry}/automl-video-gpu:${tag}"

echo "build.sh: compiling pipelines for ${cpu_image} / ${gpu_image} into ${output}" >&2
"$python" -m automl_video pipeline compile --output "$output" --image "$cpu_image" --gpu-image "$gpu_image"
if $pipelines_only; then
  exit 0
fi

engine_works() { "$1" info > /dev/null 2>&1; }
if [[ -n "$engine" ]]; then
  if ! command -v "$engine" > /dev/null 2>&1 || ! engine_works "$engine"; then
    echo "build.sh: container engine '$engine' is not installed or not running ('$engine info' failed)." >&2
    exit 3
  fi
else
  for candidate in docker podman; do
    if command -v "$candidate" > /dev/null 2>&1 && engine_works "$candidate"; then engine="$candidate"; break; fi
  done
  if [[ -z "$engine" ]]; then
    echo "build.sh: no working container engine: install and start docker or podman (or pass --engine)." >&2
    echo "build.sh: the pipelines are compiled in ${output}; './build.sh --pipelines-only' skips the images." >&2
    exit 3
  fi
fi

# A minimal build context: the engine never sees .venv, .git or test data.
context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
cp pyproject.toml README.md "$context/"
cp -r automl_video components pipelines "$context/"
find "$context" -name __pycache__ -type d -prune -exec rm -rf {} +

for flavour in cpu gpu; do
  image="${registry}/automl-video-${flavour}:${tag}"
  echo "build.sh: building ${image} with ${engine}" >&2
  "$engine" build --file "images/Dockerfile.${flavour}" --build-arg "VERSION=${tag}" --tag "$image" "$context"
done

if $push; then
  for image in "$cpu_image" "$gpu_image"; do
    echo "build.sh: pushing ${image}" >&2
    "$engine" push "$image"
  done
fi
echo "build.sh: images ${cpu_image} ${gpu_image}; pipelines in ${output}" >&2

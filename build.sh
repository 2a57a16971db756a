#!/usr/bin/env bash
# Build the automl-video images (CPU and GPU), optionally push them, and compile the pipelines for them.
#
#   ./build.sh                   compile pipelines, then build and tag both images
#   ./build.sh --push            ... and push them
#   ./build.sh --pipelines-only  compile pipelines only (no container engine needed)
#
# Options: --registry REG (default $AUTOML_VIDEO_REGISTRY or ghcr.io/automl-video), --tag TAG (default
# the package version), --engine docker|podman|buildah (default $CONTAINER_ENGINE, else whichever
# answers), --images cpu,gpu (which to build; default both), --base-image IMAGE (default the pinned
# official Python image), --build-flag FLAG (passed to the engine's build, repeatable; also
# $AUTOML_VIDEO_BUILD_FLAGS, space-separated), --output DIR (compiled pipelines, default build/pipelines).
# The pipelines are compiled first, always, with the image names being built as their defaults.
# Exit status: 0 done, 2 bad usage, 3 no working container engine, other: the failing step's status.
set -euo pipefail
cd "$(dirname "$0")"

DEFAULT_BASE_IMAGE="docker.io/library/python:3.11.9-slim-bookworm"
registry="${AUTOML_VIDEO_REGISTRY:-ghcr.io/automl-video}"
tag=""
engine="${CONTAINER_ENGINE:-}"
output="build/pipelines"
images="cpu,gpu"
base_image="$DEFAULT_BASE_IMAGE"
read -r -a build_flags <<< "${AUTOML_VIDEO_BUILD_FLAGS:-}"
push=false
pipelines_only=false

usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --push) push=true ;;
    --pipelines-only) pipelines_only=true ;;
    --registry) registry="${2:?--registry needs a value}"; shift ;;
    --tag) tag="${2:?--tag needs a value}"; shift ;;
    --engine) engine="${2:?--engine needs a value}"; shift ;;
    --images) images="${2:?--images needs a value}"; shift ;;
    --base-image) base_image="${2:?--base-image needs a value}"; shift ;;
    --build-flag) build_flags+=("${2:?--build-flag needs a value}"); shift ;;
    --build-flag=*) build_flags+=("${1#--build-flag=}") ;;
    --output) output="${2:?--output needs a value}"; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "build.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
flavours=()
IFS=',' read -r -a requested <<< "$images"
for flavour in "${requested[@]}"; do
  case "$flavour" in
    cpu|gpu) flavours+=("$flavour") ;;
    *) echo "build.sh: --images takes cpu, gpu or cpu,gpu, not '$images'" >&2; exit 2 ;;
  esac
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
  for candidate in docker podman buildah; do
    if command -v "$candidate" > /dev/null 2>&1 && engine_works "$candidate"; then engine="$candidate"; break; fi
  done
  if [[ -z "$engine" ]]; then
    echo "build.sh: no working container engine: install and start docker, podman or buildah (or pass --engine)." >&2
    echo "build.sh: the pipelines are compiled in ${output}; './build.sh --pipelines-only' skips the images." >&2
    exit 3
  fi
fi
# buildah's build is `buildah bud`; docker and podman share `build`.
if [[ "$(basename "$engine")" == buildah ]]; then build=("$engine" bud); else build=("$engine" build); fi

# A minimal build context: the engine never sees .venv, .git or test data.
context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
cp pyproject.toml README.md "$context/"
cp -r automl_video components pipelines "$context/"
find "$context" -name __pycache__ -type d -prune -exec rm -rf {} +

built=()
for flavour in "${flavours[@]}"; do
  image="${registry}/automl-video-${flavour}:${tag}"
  echo "build.sh: building ${image} on ${base_image} with ${engine}" >&2
  "${build[@]}" --file "images/Dockerfile.${flavour}" --build-arg "VERSION=${tag}" \
    --build-arg "PYTHON_IMAGE=${base_image}" ${build_flags[@]+"${build_flags[@]}"} --tag "$image" "$context"
  built+=("$image")
done

if $push; then
  for image in "${built[@]}"; do
    echo "build.sh: pushing ${image}" >&2
    "$engine" push "$image"
  done
fi
echo "build.sh: images ${built[*]}; pipelines in ${output}" >&2

#!/usr/bin/env bash
# Build the project's images and run them: the CLI, one stage as the image's user, and the whole
# training DAG with every task in its image (kfp.local's DockerRunner on podman's Docker API).
#
#   images/test-images.sh          the CPU image (train/predict tasks run on it too)
#   images/test-images.sh --gpu    the GPU image as well (7 GB), running the train and predict tasks
#                                  (TensorFlow's CUDA build falls back to the CPU here)
#
# On a machine with no reachable image registry the base image is made from Debian's archive
# (mmdebstrap: Debian 12 with its python3, tagged localhost/automl-video-base:bookworm) unless the
# pinned official Python image is there already or can be pulled. podman gets the settings these VMs
# need through a containers.conf of its own ($CONTAINERS_CONF; the machine's configuration is not
# touched): runc (crun refuses the hybrid cgroup layout), open-file limits the VM can grant. The
# host's CA bundle is mounted into build steps (pip behind a TLS-intercepting proxy), never copied
# into a layer. Images and the base stay in podman's store, so a second run rebuilds only the code
# layers (seconds) instead of the dependencies (minutes).
#
# Needs root (podman, apt) and the project's venv (.venv, made here when missing).
# Exit status: 0 passed; 77 skipped (a tool cannot be installed: one line says which); other: failed.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
started=$(date +%s)
with_gpu=false
[[ "${1:-}" == --gpu ]] && with_gpu=true
OFFICIAL_BASE=docker.io/library/python:3.11.9-slim-bookworm
DEBIAN_BASE=localhost/automl-video-base:bookworm
REGISTRY=localhost/automl-video
TAG=test
cpu_image="$REGISTRY/automl-video-cpu:$TAG"
gpu_image="$REGISTRY/automl-video-gpu:$TAG"
cache="${AUTOML_VIDEO_CACHE_DIR:-$HOME/.cache/automl-video}/images"
CHECK=images/test-images.sh
# shellcheck source=../.ci/lib.sh
source .ci/lib.sh
lap_start=$started
lap() { local now; now=$(date +%s); timings+=("$1 $((now - lap_start))s"); lap_start=$now; }
timings=()

[[ $(id -u) -eq 0 ]] || skip "needs root (podman's rootful store and mmdebstrap)"
apt_install podman buildah runc fuse-overlayfs slirp4netns uidmap mmdebstrap ca-certificates
if [[ ! -x .venv/bin/python ]]; then
  log "making .venv"
  python3 -m venv .venv && .venv/bin/pip install -q --upgrade pip && .venv/bin/pip install -q -e '.[test]'
fi
.venv/bin/python -c 'import docker' 2>/dev/null || fail ".venv lacks the Docker SDK: pip install -e '.[test]'"

mkdir -p "$cache"
hard_nofile=$(ulimit -Hn)
[[ "$hard_nofile" == unlimited ]] && hard_nofile=1048576
nofile=$(( hard_nofile < 16384 ? hard_nofile : 16384 ))
export CONTAINERS_CONF="$cache/containers.conf"
cat >"$CONTAINERS_CONF" <<CONF
# Written by images/test-images.sh for this machine: no CAP_SYS_RESOURCE to raise rlimits to podman's
# defaults, and crun refuses the hybrid cgroup v1/v2 layout where runc does not.
[containers]
default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=16384:16384"]
[engine]
runtime = "runc"
CONF
podman info >/dev/null 2>"$work/podman-info.log" || { cat "$work/podman-info.log" >&2; fail "podman does not work here"; }
lap "tools"

# -- the base image ------------------------------------------------------------------------------------
base="$OFFICIAL_BASE"
base_origin="the pinned official Python image"
if ! podman image exists "$OFFICIAL_BASE" && ! timeout 60 podman pull -q "$OFFICIAL_BASE" >/dev/null 2>&1; then
  base="$DEBIAN_BASE"
  base_origin="Debian 12 from its archive (mmdebstrap)"
  if ! podman image exists "$DEBIAN_BASE"; then
    log "no image registry reachable: making $DEBIAN_BASE with mmdebstrap"
    mapfile -t mirrors < <(bookworm_sources deb)
    [[ ${#mirrors[@]} -gt 0 ]] || skip "no Debian bookworm apt source to bootstrap a base image from"
    # Debian's Python as the image's: pip may install into it (the marker forbidding that is removed), and
    # `pip` names Debian's pip3, as in the official image.
    mmdebstrap --quiet --variant=minbase --include=python3,python3-pip,python3-venv,python-is-python3,ca-certificates \
      --customize-hook='rm -f "$1"/usr/lib/python3*/EXTERNALLY-MANAGED' \
      --customize-hook='ln -sf /usr/bin/pip3 "$1"/usr/local/bin/pip' \
      bookworm "$work/base.tar" "${mirrors[@]}" >"$work/mmdebstrap.log" 2>&1 \
      || { tail -n 20 "$work/mmdebstrap.log" >&2; fail "mmdebstrap could not make the base image"; }
    podman import --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' "$work/base.tar" "$DEBIAN_BASE" \
      >"$work/import.log" 2>&1 || { cat "$work/import.log" >&2; fail "podman import of the base image failed"; }
    rm -f "$work/base.tar"
  fi
fi
lap "base image"

# -- build ---------------------------------------------------------------------------------------------
flavours=cpu
$with_gpu && flavours=cpu,gpu
./build.sh --engine podman --registry "$REGISTRY" --tag "$TAG" --images "$flavours" --base-image "$base" \
  --output "$work/pipelines" --build-flag "--volume=/etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro" \
  >"$work/build.log" 2>&1 || { tail -n 40 "$work/build.log" >&2; fail "./build.sh failed (log above)"; }
size() { podman image inspect --format '{{.Size}}' "$1" | awk '{printf "%.2f GB", $1 / 1e9}'; }
sizes="automl-video-cpu $(size "$cpu_image")"
$with_gpu && sizes="$sizes, automl-video-gpu $(size "$gpu_image")"
lap "build"

# -- the CLI and one stage, as the image's own user ----------------------------------------------------------
version=$(podman run --rm "$cpu_image" automl-video --version)
[[ "$version" == "automl-video $(.venv/bin/python -c 'import automl_video; print(automl_video.__version__)')" ]] \
  || fail "automl-video --version in the image printed '$version'"
[[ "$(podman run --rm "$cpu_image" id -u)" == 1000 ]] || fail "the image does not run as uid 1000"
if $with_gpu; then
  podman run --rm "$gpu_image" python -c 'import tensorflow, automl_video' >/dev/null 2>&1 || fail "the GPU image cannot import TensorFlow"
fi
# Videos made on the host (by root, umask 022) must be readable by the image's uid 1000.
data="$work/data"
.venv/bin/automl-video synth --output "$data" --classes 2 --videos-per-class 4 --seconds 1 --width 64 --height 64 \
  --json >"$work/synth.json" 2>"$work/synth.log" || { cat "$work/synth.log" >&2; fail "synth on the host failed"; }
python3 -c 'import json, sys; print("".join(f"{v},0,inf\n" for v in json.load(open(sys.argv[1]))["videos"][::2]), end="")' \
  "$work/synth.json" >"$data/predict.csv"
mkdir -p "$work/stage" && chown 1000:1000 "$work/stage"
podman run --rm -v "$data:$data:ro" -v "$work/stage:/out" "$cpu_image" \
  automl-video dataset import --source "$data/import.csv" --dataset /out/dataset --registry off --json >"$work/import.json" \
  2>"$work/import.log" || { cat "$work/import.log" >&2; fail "dataset import in the image as uid 1000 failed"; }
imported=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["imported_rows"])' "$work/import.json")
[[ "$imported" -gt 0 ]] || fail "dataset import in the image imported no row"
lap "CLI and one stage"

# -- the whole training DAG, each task in its image --------------------------------------------------------
podman system service --time=0 "unix://$work/podman.sock" >"$work/podman-service.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do [[ -S "$work/podman.sock" ]] && break; sleep 0.1; done
[[ -S "$work/podman.sock" ]] || fail "podman system service did not open its socket"
registry_url="sqlite:///$work/registry/registry.sqlite"
gpu_task_image=$cpu_image  # train and predict tasks: the GPU image when it was built (it runs on the CPU here)
$with_gpu && gpu_task_image=$gpu_image
.venv/bin/automl-video pipeline run --containers --docker-host "unix://$work/podman.sock" \
  --image "$cpu_image" --gpu-image "$gpu_task_image" --pipeline-root "$work/root" --log-file "$work/dag.log" \
  --source "$data/import.csv" --model-type MOBILE_VERSATILE_1 --model-display-name images-test --budget-minutes 0.2 \
  --serving-root "$work/serving" --predict-input "$data/predict.csv" --predictions-prefix "$work/predictions" \
  --registry-url "$registry_url" --json >"$work/dag.json" 2>"$work/dag.err" \
  || { tail -n 30 "$work/dag.log" "$work/dag.err" >&2; fail "the training DAG failed in containers (task logs above)"; }
.venv/bin/python - "$work/dag.json" "$registry_url" <<'PY' || fail "the containerised run left the wrong results (above)"
import json, subprocess, sys

summary = json.load(open(sys.argv[1]))
tasks = {t.rsplit("/", 1)[-1] for t in summary["tasks"]}
expected = {"import-dataset", "split-dataset", "train-model", "evaluate-model", "export-model", "promote-model",
            "record-training-run", "batch-predict-shard", "merge-predictions", "record-batch-prediction"}
missing = expected - tasks
assert not missing, f"tasks that did not run: {sorted(missing)}"
assert summary["promotion"]["promoted"], summary["promotion"]
models = json.loads(subprocess.run([".venv/bin/automl-video", "models", "list", "--registry", sys.argv[2], "--json"],
                                   check=True, capture_output=True, text=True).stdout)
assert [m["displayName"] for m in models] == ["images-test"], models
assert models[0]["evaluations"], "the recorded model has no evaluations"
assert "serving" in models[0]["versionAliases"], models[0]["versionAliases"]
PY
read -r task_count dag_seconds < <(.venv/bin/python -c 'import json, sys; s = json.load(open(sys.argv[1])); print(len(s["tasks"]), round(s["wall_seconds"]))' "$work/dag.json")
lap "training DAG in containers"

echo "images/test-images.sh: built ${sizes} on ${base_origin}; in the image: --version, dataset import as uid 1000, and the training DAG (${task_count} tasks, each in its image through kfp.local's DockerRunner on podman, recorded in the registry) in ${dag_seconds}s; total $(( $(date +%s) - started ))s ($(IFS=,; echo "${timings[*]}" | sed 's/,/, /g'))"

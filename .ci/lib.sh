# Shell helpers the system checks share (images/test-images.sh, k8s/test-cluster.sh); source it after
# setting CHECK (the script's name as it prints it, e.g. images/test-images.sh).
#   skip / fail       the one-line verdicts (skip exits 77: a tool cannot be installed here)
#   work, pids        a temporary folder and background processes, removed and stopped at exit
#   apt_install PKG…  Debian packages, installed when missing (root only; skips when they cannot be)
#   bookworm_sources deb|deb-src   the machine's own apt mirrors of Debian 12, one line each

log() { echo "${CHECK##*/}: $*" >&2; }
skip() { echo "${CHECK}: SKIPPED: $*"; exit 77; }
fail() { echo "${CHECK}: FAILED: $*" >&2; exit 1; }

work=$(mktemp -d "/tmp/automl-video-${CHECK//\//-}.XXXXXX")
chmod 755 "$work"
pids=()
_cleanup() {
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2>/dev/null || true; done
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do wait "${pids[i]}" 2>/dev/null || true; done
  rm -rf "$work"
}
trap _cleanup EXIT

apt_install() {
  local missing=() package
  for package in "$@"; do dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package"); done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  command -v apt-get >/dev/null 2>&1 || skip "no apt-get to install ${missing[*]}"
  [[ $(id -u) -eq 0 ]] || skip "${missing[*]} missing and installing them needs root"
  log "installing ${missing[*]}"
  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"; } \
    >"$work/apt.log" 2>&1 || { tail -n 20 "$work/apt.log" >&2; skip "apt-get could not install ${missing[*]}"; }
}

bookworm_sources() {
  python3 - "$1" <<'PY'
import glob, sys
kind = sys.argv[1]
for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    for stanza in open(path).read().split("\n\n"):
        fields = dict(line.split(":", 1) for line in stanza.splitlines() if ":" in line and not line.startswith("#"))
        fields = {k.strip(): v.strip() for k, v in fields.items()}
        if "deb" in fields.get("Types", "").split():
            for uri in fields.get("URIs", "").split():
                for suite in fields.get("Suites", "").split():
                    if suite == "bookworm" or (kind == "deb" and suite.startswith("bookworm")):
                        print(f"{kind} {uri} {suite} {fields.get('Components', 'main')}")
for path in ["/etc/apt/sources.list", *sorted(glob.glob("/etc/apt/sources.list.d/*.list"))]:
    try:
        lines = open(path).read().splitlines()
    except OSError:
        continue
    for line in lines:
        parts = line.split()
        if len(parts) >= 3 and parts[0] == "deb" and (parts[2] == "bookworm" or (kind == "deb" and parts[2].startswith("bookworm"))):
            print(kind, *parts[1:])
PY
}

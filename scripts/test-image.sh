#!/usr/bin/env bash
# Build the connector image with podman from a local debootstrap base image (no
# container registry needed) and run the Airbyte protocol commands against the fake
# Mixpanel server on the host.
#
# Usage (from anywhere, as root): bash scripts/test-image.sh
# Env:
#   PYTHON         host interpreter for the fake server and the output checks (python3)
#   IMAGE          tag to build (airbyte/source-mixpanel-aep:dev)
#   BASE_IMAGE     base image to build on (localhost/mixpanel-aep-base:bookworm, made by
#                  scripts/make-base-image.sh if missing)
#   CA_BUNDLE      CA bundle given to pip in the build as a build secret
#                  (default /etc/ssl/certs/ca-certificates.crt, skipped if absent)
#   PIP_INDEX_URL, PIP_EXTRA_INDEX_URL, PIP_TRUSTED_HOST
#                  passed as build args only when set and not a file:// URL
#   STORAGE_DRIVER  podman's storage driver (podman reads it itself); the default,
#                  overlay, works on an ext4 host as root; use vfs where overlay can't
# Exits non-zero on any failure.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

PYTHON="${PYTHON:-python3}"
IMAGE="${IMAGE:-airbyte/source-mixpanel-aep:dev}"
BASE_IMAGE="${BASE_IMAGE:-localhost/mixpanel-aep-base:bookworm}"
CA_BUNDLE="${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
# runc (not crun) and explicit ulimits: podman's default nofile limit (1048576) is above
# the hard limit a sandboxed host may allow, and runc then fails with
# "error setting rlimit type 7: operation not permitted".
ULIMITS=(--ulimit nofile=1024:1024 --ulimit nproc=4096:4096)
RUN=(podman run --rm --runtime runc "${ULIMITS[@]}" --network host)

log() { echo "[test-image] $*" >&2; }
fail() { echo "[test-image] FAIL: $*" >&2; exit 1; }

# --- tools ---------------------------------------------------------------------------
missing=()
command -v podman >/dev/null 2>&1 || missing+=(podman)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
command -v runc >/dev/null 2>&1 || missing+=(runc)
[ -f /usr/share/keyrings/debian-archive-keyring.gpg ] || missing+=(debian-archive-keyring)
if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v "$PYTHON" >/dev/null 2>&1 || fail "host python '$PYTHON' not found"

# --- temp dir, server, cleanup -------------------------------------------------------
TMP="$(mktemp -d /tmp/test-image.XXXXXX)"
SERVER_PID=""
cleanup() {
    local rc=$?
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$TMP"
    if [ "$rc" -eq 0 ]; then log "PASS"; else log "exit code $rc"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- versions: the image label is a literal in the Dockerfile; it must match ---------
SETUP_VERSION="$("$PYTHON" - <<'EOF'
import re, sys
src = open("setup.py").read()
# version="X" literally, or version=NAME with NAME = "X" at module level
m = re.search(r"""\bversion\s*=\s*["']([^"']+)["']""", src)
if not m:
    ref = re.search(r"\bversion\s*=\s*([A-Za-z_]\w*)", src)
    m = ref and re.search(r"""^%s\s*=\s*["']([^"']+)["']""" % ref.group(1), src, re.M)
sys.exit("no version in setup.py") if not m else print(m.group(1))
EOF
)" || fail "cannot read the version from setup.py"
if [ -f metadata.yaml ]; then
    META_VERSION="$("$PYTHON" - <<'EOF'
import re
m = re.search(r"""^\s*dockerImageTag:\s*["']?([^\s"']+)""", open("metadata.yaml").read(), re.M)
print(m.group(1) if m else "")
EOF
)"
    [ -z "$META_VERSION" ] || [ "$META_VERSION" = "$SETUP_VERSION" ] ||
        fail "metadata.yaml dockerImageTag $META_VERSION != setup.py version $SETUP_VERSION"
fi

# --- base image + build --------------------------------------------------------------
t0=$(date +%s)
BASE_IMAGE_TAG="$BASE_IMAGE" bash "$REPO_ROOT/scripts/make-base-image.sh"
log "base image ready in $(( $(date +%s) - t0 ))s"

BUILD_ARGS=(--build-arg "BASE_IMAGE=$BASE_IMAGE")
if [ -s "$CA_BUNDLE" ]; then
    BUILD_ARGS+=(--secret "id=cacert,src=$CA_BUNDLE")
fi
# The host's pip may point at local file:// indexes that don't exist in the build
# container: only pass index settings that are reachable URLs.
for v in PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_TRUSTED_HOST; do
    val="${!v:-}"
    if [ -n "$val" ] && [[ "$val" != *file://* ]]; then
        BUILD_ARGS+=(--build-arg "$v=$val")
    fi
done

t0=$(date +%s)
log "building $IMAGE"
podman build --isolation chroot --network host "${ULIMITS[@]}" \
    "${BUILD_ARGS[@]}" -t "$IMAGE" -f Dockerfile . >"$TMP/build.log" 2>&1 || {
    tail -n 60 "$TMP/build.log" >&2
    fail "podman build"
}
log "image built in $(( $(date +%s) - t0 ))s"
podman images --format 'image {{.Repository}}:{{.Tag}} size {{.Size}}' "$IMAGE"
log "image size: $(podman image inspect --format '{{.Size}}' "$IMAGE") bytes"

# --- image metadata ------------------------------------------------------------------
label() { podman image inspect --format "{{ index .Config.Labels \"$1\" }}" "$IMAGE"; }
[ "$(label io.airbyte.name)" = "airbyte/source-mixpanel-aep" ] || fail "label io.airbyte.name is '$(label io.airbyte.name)'"
[ "$(label io.airbyte.version)" = "$SETUP_VERSION" ] ||
    fail "label io.airbyte.version '$(label io.airbyte.version)' != setup.py version '$SETUP_VERSION'"
podman image inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$IMAGE" |
    grep -qx 'AIRBYTE_ENTRYPOINT=/opt/venv/bin/source-mixpanel-aep' || fail "AIRBYTE_ENTRYPOINT not set"

uid="$("${RUN[@]}" --entrypoint id "$IMAGE" -u)" || fail "podman run id"
[ -n "$uid" ] && [ "$uid" != 0 ] || fail "image runs as uid '$uid' (want non-root)"
log "runs as uid $uid"

# --- fake Mixpanel server ------------------------------------------------------------
"$PYTHON" -m integration_tests.fake_mixpanel --port 0 --events-per-day 50 --days 3 \
    --port-file "$TMP/port" >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 150); do
    [ -s "$TMP/port" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$TMP/server.log" >&2; fail "fake server exited"; }
    sleep 0.2
done
[ -s "$TMP/port" ] || { cat "$TMP/server.log" >&2; fail "fake server wrote no port file"; }
# The fake writes its base URL (http://127.0.0.1:PORT); a bare port number is accepted too.
BASE_URL="$(head -n1 "$TMP/port" | tr -d '[:space:]')"
case "$BASE_URL" in
    http://* | https://*) ;;
    *[!0-9]* | "") fail "unexpected port file content '$BASE_URL'" ;;
    *) BASE_URL="http://127.0.0.1:$BASE_URL" ;;
esac
log "fake Mixpanel at $BASE_URL"

mkdir "$TMP/data"
"$PYTHON" - "$TMP/data/config.json" "$BASE_URL" <<'EOF'
import datetime, json, sys
from integration_tests import fake_mixpanel as fm
start = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=3)).strftime("%Y-%m-%d")
config = {
    "credentials": {"auth_type": "service_account", "username": fm.FAKE_SA_USERNAME, "secret": fm.FAKE_SA_SECRET},
    "project_id": fm.FAKE_PROJECT_ID,
    "base_url": sys.argv[2],
    "start_date": start,
}
json.dump(config, open(sys.argv[1], "w"), indent=2)
EOF
# The container runs as a non-root user: the mounted files must be world-readable.
chmod 755 "$TMP/data"
chmod 644 "$TMP/data/config.json"

# --- protocol commands ---------------------------------------------------------------
connector() { # connector NAME ARGS...: run the image, stdout to $TMP/NAME.out
    local name=$1; shift
    if ! "${RUN[@]}" -v "$TMP/data:/data:ro" "$IMAGE" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"; then
        tail -n 30 "$TMP/$name.out" "$TMP/$name.err" >&2
        fail "'$*' exited non-zero"
    fi
}
# check_output NAME: validate $TMP/NAME.out with the inline python below
check_output() {
    "$PYTHON" - "$1" "$TMP" <<'EOF' || fail "output of '$1' (see above)"
import json, os, sys
name, tmp = sys.argv[1], sys.argv[2]
msgs = []
for line in open(os.path.join(tmp, name + ".out")):
    line = line.strip()
    if line.startswith("{"):
        try:
            msgs.append(json.loads(line))
        except ValueError:
            pass
by_type = {}
for m in msgs:
    by_type.setdefault(m.get("type"), []).append(m)
errors = [m for m in by_type.get("TRACE", []) if m.get("trace", {}).get("type") == "ERROR"]
def die(why):
    print(f"{name}: {why}; message types: { {k: len(v) for k, v in by_type.items()} }", file=sys.stderr)
    for m in errors[:3]:
        print(json.dumps(m)[:2000], file=sys.stderr)
    sys.exit(1)
if errors:
    die("connector emitted an ERROR trace")
if name == "spec":
    specs = by_type.get("SPEC", [])
    if not specs or "connectionSpecification" not in specs[0].get("spec", {}):
        die("no SPEC message with connectionSpecification")
elif name == "check":
    st = [m["connectionStatus"].get("status") for m in by_type.get("CONNECTION_STATUS", [])]
    if st != ["SUCCEEDED"]:
        die(f"connection status {st}")
elif name == "discover":
    cats = by_type.get("CATALOG", [])
    streams = {s["name"]: s for c in cats for s in c["catalog"].get("streams", [])}
    if "events" not in streams:
        die(f"no 'events' stream in {sorted(streams)}")
    configured = {"streams": [{
        "stream": streams["events"],
        "sync_mode": "incremental",
        "cursor_field": ["timestamp"],
        "destination_sync_mode": "append",
    }]}
    json.dump(configured, open(os.path.join(tmp, "data", "catalog.json"), "w"), indent=2)
elif name.startswith("read"):
    records = by_type.get("RECORD", [])
    states = by_type.get("STATE", [])
    if name == "read" and not records:
        die("no RECORD messages")
    if not states:
        die("no STATE messages")
    bad = [r for r in records if r["record"].get("stream") != "events"]
    if bad:
        die(f"{len(bad)} records of other streams")
    if name == "read":
        # The state to resume from: latest per stream (or the last global/legacy one).
        last = {}
        for m in states:
            s = m["state"]
            if s.get("type") == "STREAM":
                last[json.dumps(s["stream"]["stream_descriptor"], sort_keys=True)] = s
            else:
                last = {"": s}
        vals = list(last.values())
        state = vals[0]["data"] if len(vals) == 1 and "type" not in vals[0] and "data" in vals[0] else vals
        json.dump(state, open(os.path.join(tmp, "data", "state.json"), "w"), indent=2)
    print(f"{name}: {len(records)} records, {len(states)} state messages", file=sys.stderr)
print(f"{name}: ok", file=sys.stderr)
EOF
}

log "spec";     connector spec spec;                                    check_output spec
log "check";    connector check check --config /data/config.json;       check_output check
log "discover"; connector discover discover --config /data/config.json; check_output discover
chmod 644 "$TMP/data/catalog.json"
log "read";     connector read read --config /data/config.json --catalog /data/catalog.json
check_output read
chmod 644 "$TMP/data/state.json"
log "read --state"
connector read_state read --config /data/config.json --catalog /data/catalog.json --state /data/state.json
check_output read_state

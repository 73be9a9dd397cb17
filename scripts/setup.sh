#!/usr/bin/env bash
# Installs what scrapeflow needs on this machine; idempotent and quick when everything is present.
#   - npm packages (npm ci) and the TypeScript build
#   - the Temporal CLI (dev server + Web UI), built from its Go module when no binary is found
#   - Chromium's headless shell, from Debian's packages when missing (else another Chromium found)
#   - Prometheus (promtool, and the server one test starts), from Debian's packages when missing
#   - PostgreSQL started when installed but down (only with --start-postgres)
#   - with --cluster: the Temporal server and its SQL tool (temporal-server, temporal-sql-tool), built
#     from the server's Go module, for a real cluster on PostgreSQL, and the server's PostgreSQL schemas
#     (copied to ~/.cache/scrapeflow/temporal-schema/<version>/postgresql/v12)
# Overrides: TEMPORAL_CLI_PATH, CHROMIUM_PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

TEMPORAL_VERSION=v1.5.1
# v1.31.5 and later need a newer Go than Debian's machines here have (>= 1.26.10).
TEMPORAL_SERVER_VERSION=v1.31.2
TOOLS_DIR="${SCRAPEFLOW_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/scrapeflow/bin}"
say() { printf '[setup] %s\n' "$*" >&2; }
apt_updated=0
apt_install() {
  [ "$apt_updated" = 1 ] || { apt-get update -qq && apt_updated=1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

start_postgres=0
cluster=0
script_args="$*"
for arg in "$@"; do
  case "$arg" in
    --start-postgres) start_postgres=1 ;;
    --cluster) cluster=1 ;;
    *) say "unknown option: $arg"; exit 2 ;;
  esac
done

# --- npm packages and build -------------------------------------------------------------------------
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f node_modules/.scrapeflow-lock ] || [ "$(cat node_modules/.scrapeflow-lock)" != "$lock_hash" ]; then
  say "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > node_modules/.scrapeflow-lock
fi
say "building TypeScript"
npm run --silent build

# --- Go builds --------------------------------------------------------------------------------------
# go_build <module/path@version> <name>: `go install`s one command into $TOOLS_DIR under <name>, saying
# what failed (the module proxy, or its checksum database) when it cannot.
go_build() {
  local module=$1 name=$2 gobin log
  gobin=$(mktemp -d)
  log=$(mktemp)
  mkdir -p "$TOOLS_DIR"
  if ! GOBIN="$gobin" go install "$module" 2> "$log"; then
    cat "$log" >&2
    if grep -qiE 'sum\.golang\.org|checksum database|verifying module' "$log"; then
      say "the Go checksum database is out of reach from this machine. If you trust the module proxy, retry with"
      say "  GONOSUMDB=github.com/temporalio,go.temporal.io GOFLAGS=-mod=mod bash scripts/setup.sh $script_args   (or GOSUMDB=off)"
    elif grep -qiE 'proxy\.golang\.org|dial tcp|no such host|i/o timeout' "$log"; then
      say "the Go module proxy is out of reach from this machine (GOPROXY=$(go env GOPROXY))"
    fi
    rm -rf "$gobin" "$log"
    return 1
  fi
  mv "$gobin/$(basename "${module%@*}")" "$TOOLS_DIR/$name"
  rm -rf "$gobin" "$log"
}

# --- Temporal CLI -----------------------------------------------------------------------------------
find_temporal() {
  if [ -n "${TEMPORAL_CLI_PATH:-}" ]; then
    [ -x "$TEMPORAL_CLI_PATH" ] && { echo "$TEMPORAL_CLI_PATH"; return 0; }
    say "TEMPORAL_CLI_PATH=$TEMPORAL_CLI_PATH is not an executable file"; return 1
  fi
  for candidate in "$(command -v temporal || true)" "$TOOLS_DIR/temporal" "$(go env GOPATH 2>/dev/null || echo /nonexistent)/bin/temporal"; do
    [ -n "$candidate" ] && [ -x "$candidate" ] && { echo "$candidate"; return 0; }
  done
  return 1
}
if temporal_bin=$(find_temporal); then
  say "temporal CLI: $temporal_bin"
elif [ -n "${TEMPORAL_CLI_PATH:-}" ]; then
  exit 1
elif command -v go >/dev/null 2>&1; then
  say "building the Temporal CLI $TEMPORAL_VERSION from its Go module into $TOOLS_DIR (a few minutes, once)"
  go_build "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_VERSION" temporal ||
    { say "could not build the Temporal CLI; install it (https://docs.temporal.io/cli) and set TEMPORAL_CLI_PATH"; exit 1; }
  say "temporal CLI: $TOOLS_DIR/temporal"
else
  say "no temporal CLI and no Go toolchain: tests fall back to the Temporal SDK's own dev-server download"
fi

# --- Temporal server and SQL tool (--cluster) -------------------------------------------------------
if [ "$cluster" = 1 ]; then
  command -v go >/dev/null 2>&1 || { say "--cluster needs a Go toolchain (>= 1.26) to build the Temporal server"; exit 1; }
  for pair in "server:temporal-server" "tools/sql:temporal-sql-tool"; do
    cmd=${pair%%:*} name=${pair##*:}
    if [ -x "$TOOLS_DIR/$name" ]; then
      say "$name: $TOOLS_DIR/$name"
      continue
    fi
    say "building $name $TEMPORAL_SERVER_VERSION from go.temporal.io/server into $TOOLS_DIR (minutes on 2 cores, once)"
    go_build "go.temporal.io/server/cmd/$cmd@$TEMPORAL_SERVER_VERSION" "$name" ||
      { say "could not build $name"; exit 1; }
    say "$name: $TOOLS_DIR/$name"
  done
  # The SQL schemas `scrapeflow cluster up` creates and migrates, copied out of Go's module cache (which
  # `go clean -modcache` empties) next to the binaries.
  schema_dir="$(dirname "$TOOLS_DIR")/temporal-schema/$TEMPORAL_SERVER_VERSION/postgresql/v12"
  if [ ! -d "$schema_dir/temporal/versioned" ] || [ ! -d "$schema_dir/visibility/versioned" ]; then
    module_dir=$(go mod download -json "go.temporal.io/server@$TEMPORAL_SERVER_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    [ -d "$module_dir/schema/postgresql/v12" ] ||
      { say "no schema/postgresql/v12 in the server module (${module_dir:-not downloaded})"; exit 1; }
    rm -rf "$schema_dir" && mkdir -p "$schema_dir"
    cp -R "$module_dir/schema/postgresql/v12/temporal" "$module_dir/schema/postgresql/v12/visibility" "$schema_dir/"
    chmod -R u+w "$schema_dir"
  fi
  say "temporal schemas: $schema_dir"
fi

# --- Chromium ---------------------------------------------------------------------------------------
# The headless shell first (same order as findChromium in src/config/binaries.ts): every launch here is
# headless, and it spends under half the CPU of a full Chromium per browser session. A machine with only
# a full Chromium gets the headless shell from Debian's packages when it can, and uses what it has when not.
find_chromium() {
  if [ -n "${CHROMIUM_PATH:-}" ]; then
    [ -x "$CHROMIUM_PATH" ] && { echo "$CHROMIUM_PATH"; return 0; }
    say "CHROMIUM_PATH=$CHROMIUM_PATH is not an executable file"; return 1
  fi
  # Debian's wrapper script runs the headless shell as its child (no exec): its binary is taken directly.
  [ -x /usr/lib/chromium/chromium-headless-shell ] && { echo /usr/lib/chromium/chromium-headless-shell; return 0; }
  for name in chromium-headless-shell chromium chromium-browser google-chrome google-chrome-stable; do
    command -v "$name" >/dev/null 2>&1 && { command -v "$name"; return 0; }
  done
  return 1
}
can_apt() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }
if [ -z "${CHROMIUM_PATH:-}" ] && ! command -v chromium-headless-shell >/dev/null 2>&1 && can_apt; then
  say "installing Chromium's headless shell from Debian's packages"
  apt_install chromium-headless-shell || say "chromium-headless-shell not installed; looking for another Chromium"
fi
if chromium_bin=$(find_chromium); then
  say "chromium: $chromium_bin"
else
  [ -n "${CHROMIUM_PATH:-}" ] ||
    say "no Chromium found. Install it (Debian: sudo apt-get install -y chromium-headless-shell) or set CHROMIUM_PATH."
  exit 1
fi

# --- Prometheus (promtool checks deploy/prometheus/; a test scrapes a worker with a real server) -------
if ! command -v promtool >/dev/null 2>&1 && can_apt; then
  say "installing Prometheus from Debian's packages (promtool and the server)"
  if apt_install --no-install-recommends prometheus; then
    # The tests start their own server on a free port: the package's service must not hold 9090.
    if [ -d /run/systemd/system ]; then
      systemctl disable --now prometheus >/dev/null 2>&1 || true
    elif [ -x /etc/init.d/prometheus ]; then
      /etc/init.d/prometheus stop >/dev/null 2>&1 || true
      update-rc.d prometheus disable >/dev/null 2>&1 || true
    fi
  else
    say "prometheus not installed"
  fi
fi
if command -v promtool >/dev/null 2>&1; then
  say "promtool: $(command -v promtool)"
else
  say "no promtool found. Install it (Debian: sudo apt-get install -y prometheus); the Prometheus tests will be skipped"
fi

# --- docker-compose (only to validate docker-compose.yml; no engine needed) ---------------------------
if ! command -v docker-compose >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  say "installing docker-compose (validates docker-compose.yml)"
  apt_install docker-compose ||
    say "docker-compose not installed; the compose validation test will be skipped"
fi

# --- PostgreSQL ---------------------------------------------------------------------------------------
if [ "$start_postgres" = 1 ]; then
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    say "postgresql: up on 127.0.0.1:5432"
  elif command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    say "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
    pg_isready -h 127.0.0.1 -p 5432 >&2 || { say "PostgreSQL did not come up"; exit 1; }
  else
    say "PostgreSQL is not running on 127.0.0.1:5432 and no local cluster was found; PostgreSQL tests will be skipped"
  fi
fi
say "ready"

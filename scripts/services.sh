#!/usr/bin/env bash
# Make sure the services Alatar needs are installed and running on a Debian
# bookworm machine:
#   - PostgreSQL (127.0.0.1:5432, role "postgres" reachable with trust auth)
#     with the pgvector extension available (built from Debian trixie's source
#     package, since bookworm ships no pgvector binary package)
#   - Redis (127.0.0.1:6379)
#   - RabbitMQ (127.0.0.1:5672, guest/guest)
#   - Node.js + npm (for the graphql-http conformance audit in tests/graphql-http)
#   - git (repository analysis clones with it)
#   - Chromium (the console's browser test drives it headless)
#
# Idempotent: services that are already running are used as they are, and
# nothing is installed when it is already present. Must run as root (or with
# passwordless sudo available).
set -euo pipefail

log() { printf '[services] %s\n' "$*"; }
die() { printf '[services] ERROR: %s\n' "$*" >&2; exit 1; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "must run as root (or have sudo)"
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
PGHOST_ADDR=127.0.0.1
PGPORT_NUM=5432

APT_UPDATED=0
apt_update() {
    if [ "$APT_UPDATED" -eq 0 ]; then
        log "apt-get update"
        $SUDO apt-get update -qq
        APT_UPDATED=1
    fi
}
apt_install() {
    apt_update
    log "apt-get install $*"
    $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# wait_for SECONDS DESCRIPTION COMMAND...
wait_for() {
    local timeout=$1 what=$2 start
    shift 2
    start=$(date +%s)
    until "$@" >/dev/null 2>&1; do
        if [ $(( $(date +%s) - start )) -ge "$timeout" ]; then
            die "timed out after ${timeout}s waiting for $what"
        fi
        sleep 1
    done
}

tcp_open() { timeout 3 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }

# ------------------------------------------------------- build prerequisites
# langchain-rust links OpenSSL (native TLS) through reqwest and async-openai.
if ! dpkg -s libssl-dev pkg-config >/dev/null 2>&1; then
    apt_install libssl-dev pkg-config
fi

# ---------------------------------------------------------------- PostgreSQL
pg_major() {
    local m=""
    if [ -d /etc/postgresql ]; then
        m=$(ls -1 /etc/postgresql 2>/dev/null | sort -V | tail -n1 || true)
    fi
    if [ -z "$m" ] && [ -d /usr/lib/postgresql ]; then
        m=$(ls -1 /usr/lib/postgresql 2>/dev/null | sort -V | tail -n1 || true)
    fi
    printf '%s' "$m"
}

if ! command -v psql >/dev/null 2>&1 || [ -z "$(ls -1 /usr/lib/postgresql/*/bin/postgres 2>/dev/null || true)" ]; then
    apt_install postgresql postgresql-contrib
fi
PG_MAJOR=$(pg_major)
[ -n "$PG_MAJOR" ] || die "could not determine the PostgreSQL major version"
log "PostgreSQL major version: $PG_MAJOR"

if ! pg_lsclusters -h 2>/dev/null | awk -v v="$PG_MAJOR" '$1 == v && $2 == "main"' | grep -q .; then
    log "creating cluster $PG_MAJOR/main"
    $SUDO pg_createcluster "$PG_MAJOR" main
fi

pg_ready() { pg_isready -q -h "$PGHOST_ADDR" -p "$PGPORT_NUM"; }
if pg_ready; then
    log "PostgreSQL already accepting connections"
else
    log "starting PostgreSQL $PG_MAJOR/main"
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$PG_MAJOR" main start || true
    wait_for 60 "PostgreSQL" pg_ready
    log "PostgreSQL is up"
fi

pg_trust_ok() {
    env -u PGPASSWORD psql -w -h "$PGHOST_ADDR" -p "$PGPORT_NUM" -U postgres -d postgres -Atqc 'SELECT 1' >/dev/null 2>&1
}
if ! pg_trust_ok; then
    log "role postgres cannot connect over TCP without a password; adding trust rules to pg_hba.conf"
    HBA=$($SUDO runuser -u postgres -- psql -Atqc 'SHOW hba_file')
    [ -f "$HBA" ] || die "pg_hba.conf not found (got '$HBA')"
    # First matching rule wins, so the trust rules go on top.
    tmp_hba=$(mktemp)
    {
        echo "# added by alatar scripts/services.sh"
        echo "host    all             all             127.0.0.1/32            trust"
        echo "host    all             all             ::1/128                 trust"
        $SUDO cat "$HBA"
    } >"$tmp_hba"
    $SUDO cp "$tmp_hba" "$HBA"
    rm -f "$tmp_hba"
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$PG_MAJOR" main reload
    wait_for 30 "trust auth for role postgres" pg_trust_ok
fi
log "psql -h $PGHOST_ADDR -U postgres works"

# ------------------------------------------------------------------ pgvector
PG_SHAREDIR=/usr/share/postgresql/$PG_MAJOR
PG_LIBDIR=/usr/lib/postgresql/$PG_MAJOR/lib
if [ -f "$PG_SHAREDIR/extension/vector.control" ] && [ -f "$PG_LIBDIR/vector.so" ]; then
    log "pgvector already installed for PostgreSQL $PG_MAJOR"
else
    log "pgvector missing for PostgreSQL $PG_MAJOR: building it from Debian trixie's source package"
    pgv_start=$(date +%s)
    need=()
    # postgresql-client-N ships bin/pg_config, but the headers and PGXS come with postgresql-server-dev-N
    [ -f "/usr/include/postgresql/$PG_MAJOR/server/postgres.h" ] && [ -f "/usr/lib/postgresql/$PG_MAJOR/lib/pgxs/src/makefiles/pgxs.mk" ] \
        || need+=("postgresql-server-dev-$PG_MAJOR")
    command -v dpkg-source >/dev/null 2>&1 || need+=(dpkg-dev)
    command -v make >/dev/null 2>&1 && command -v gcc >/dev/null 2>&1 || need+=(build-essential)
    if [ "${#need[@]}" -gt 0 ]; then
        apt_install "${need[@]}"
    fi

    # Reuse the Debian mirror the machine already uses for bookworm.
    MIRROR=""
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        # one-line format: deb [options] URI SUITE COMPONENTS...
        MIRROR=$(awk '$1 == "deb" { line = $0; gsub(/\[[^]]*\]/, " ", line); n = split(line, w, /[ \t]+/)
                      if (n >= 3 && w[3] == "bookworm" && w[2] ~ /\/debian\/?$/) { print w[2]; exit } }' "$f")
        [ -n "$MIRROR" ] && break
    done
    if [ -z "$MIRROR" ]; then
        for f in /etc/apt/sources.list.d/*.sources; do
            [ -f "$f" ] || continue
            # deb822 stanzas: pick URIs of a stanza whose Suites include plain "bookworm".
            MIRROR=$(awk 'BEGIN { RS = ""; FS = "\n" }
                { uris = ""; ok = 0
                  for (i = 1; i <= NF; i++) {
                    if ($i ~ /^URIs:/) { sub(/^URIs:[ \t]*/, "", $i); split($i, u, /[ \t]+/); uris = u[1] }
                    if ($i ~ /^Suites:/) { n = split($i, s, /[ \t]+/); for (j = 2; j <= n; j++) if (s[j] == "bookworm") ok = 1 }
                  }
                  if (ok && uris ~ /\/debian\/?$/) { print uris; exit } }' "$f")
            [ -n "$MIRROR" ] && break
        done
    fi
    MIRROR=${MIRROR:-http://deb.debian.org/debian}
    MIRROR=${MIRROR%/}
    log "using Debian mirror $MIRROR for trixie sources"

    SRC_LIST=/etc/apt/sources.list.d/alatar-trixie-src.list
    PIN_FILE=/etc/apt/preferences.d/alatar-trixie-src
    KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
    if [ -f "$KEYRING" ]; then
        echo "deb-src [signed-by=$KEYRING] $MIRROR trixie main" | $SUDO tee "$SRC_LIST" >/dev/null
    else
        echo "deb-src $MIRROR trixie main" | $SUDO tee "$SRC_LIST" >/dev/null
    fi
    # A deb-src line only brings in Sources indices, never binary packages; this
    # pin is a second guard so that no trixie binary could ever be installed.
    printf 'Package: *\nPin: release n=trixie\nPin-Priority: -1\n' | $SUDO tee "$PIN_FILE" >/dev/null

    BUILD_DIR=$(mktemp -d /tmp/pgvector-build.XXXXXX)
    # The trixie deb-src line and the pin are only needed for "apt-get source";
    # they are removed again so later "apt-get update" runs stay bookworm-only.
    cleanup_pgvector() {
        $SUDO rm -f "$SRC_LIST" "$PIN_FILE"
        rm -rf "$BUILD_DIR"
    }
    trap cleanup_pgvector EXIT

    log "apt-get update (with trixie deb-src)"
    $SUDO apt-get update -qq
    APT_UPDATED=1
    if apt-cache policy 2>/dev/null | grep -E '^ +-?[0-9]+ .* trixie/' | grep -v ' Sources$' >/dev/null; then
        die "trixie binary package indices are configured; refusing to continue"
    fi

    # Let apt's unprivileged _apt user write the download there (avoids the "unsandboxed" warning).
    if id _apt >/dev/null 2>&1; then chown _apt "$BUILD_DIR" 2>/dev/null || true; fi
    log "apt-get source pgvector"
    (cd "$BUILD_DIR" && $SUDO apt-get source -qq pgvector >/dev/null)
    SRC_DIR=$(find "$BUILD_DIR" -mindepth 1 -maxdepth 1 -type d -name 'pgvector-*' | head -n1)
    [ -n "$SRC_DIR" ] || die "apt-get source pgvector produced no source tree"
    log "building $(basename "$SRC_DIR")"
    PG_CONFIG_BIN=/usr/lib/postgresql/$PG_MAJOR/bin/pg_config
    [ -x "$PG_CONFIG_BIN" ] || PG_CONFIG_BIN=$(command -v pg_config)
    # OPTFLAGS="" : no -march=native, as Debian builds it.
    make -s -C "$SRC_DIR" -j"$(nproc)" PG_CONFIG="$PG_CONFIG_BIN" OPTFLAGS="" >/dev/null
    $SUDO make -s -C "$SRC_DIR" install PG_CONFIG="$PG_CONFIG_BIN" OPTFLAGS="" >/dev/null

    cleanup_pgvector
    trap - EXIT
    [ -f "$PG_SHAREDIR/extension/vector.control" ] || die "pgvector install did not produce vector.control"
    log "pgvector installed in $(( $(date +%s) - pgv_start ))s"
fi

# --------------------------------------------------------------------- Redis
redis_ok() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; }
if command -v redis-cli >/dev/null 2>&1 && redis_ok; then
    log "Redis already running"
else
    if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
        apt_install redis-server redis-tools
    fi
    $SUDO mkdir -p /var/lib/redis /var/log/redis
    log "starting Redis"
    $SUDO redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/ci.log
    wait_for 30 "Redis" redis_ok
    log "Redis is up"
fi

# ------------------------------------------------------------------ RabbitMQ
rabbit_ok() { tcp_open 127.0.0.1 5672 && $SUDO rabbitmq-diagnostics -q ping >/dev/null 2>&1; }
if ! command -v rabbitmq-server >/dev/null 2>&1; then
    apt_install rabbitmq-server
fi
if rabbit_ok; then
    log "RabbitMQ already running"
else
    if $SUDO rabbitmq-diagnostics -q ping >/dev/null 2>&1; then
        log "RabbitMQ node is up but port 5672 is not answering yet"
    else
        log "starting RabbitMQ"
        $SUDO rabbitmq-server -detached
    fi
    wait_for 120 "RabbitMQ" rabbit_ok
    log "RabbitMQ is up"
fi
# A delivery is acknowledged when its work is done, and a model training may
# run for its whole 30-minute limit (datasets.training_time_limit_secs):
# RabbitMQ's consumer_timeout (30 minutes by default) would close the
# channel under it. An hour, for channels opened from now on.
$SUDO rabbitmqctl -q eval 'application:set_env(rabbit, consumer_timeout, 3600000).' >/dev/null 2>&1 \
    || log "could not raise RabbitMQ's consumer_timeout; keep it above datasets.training_time_limit_secs"

# ------------------------------------------------------------- Node.js + npm
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
    log "Node.js $(node --version) and npm $(npm --version 2>/dev/null) present"
else
    apt_install nodejs npm
    log "installed Node.js $(node --version)"
fi

# ------------------------------------------------------------- git
# `analyzeRepository` clones with the system git.
if command -v git >/dev/null 2>&1; then
    log "$(git --version) present"
else
    apt_install git ca-certificates
    log "installed $(git --version)"
fi

# ------------------------------------------------------------- chromium
# The console's end-to-end test (tests/console) drives Debian's Chromium.
if [ -x /usr/bin/chromium ]; then
    log "chromium present"
else
    apt_install chromium fonts-dejavu-core
    log "installed $(/usr/bin/chromium --version 2>/dev/null || echo chromium)"
fi

log "all services ready"

# Shared by scripts/run and scripts/test: a virtualenv, and RabbitMQ and Redis to talk to.
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# VENV and PYTHON choose the virtualenv and the interpreter that makes it (CI makes one per
# supported Python: PYTHON=python3.13 VENV=.venv-3.13 scripts/test).
VENV=${VENV:-$ROOT/.venv}
case "$VENV" in /*) ;; *) VENV="$ROOT/$VENV" ;; esac
RUN_DIR="$ROOT/.run"

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# The supported Pythons are 3.11 to 3.13 (setup.cfg's python_requires); the newest found wins.
find_python() {
    local candidates=(python3.13 python3.12 python3.11 python3)
    [ -n "${PYTHON:-}" ] && candidates=("$PYTHON")  # the one asked for, or an error: never another
    for candidate in "${candidates[@]}"; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' 2>/dev/null; then
            echo "$candidate"; return
        fi
    done
    [ -n "${PYTHON:-}" ] && die "PYTHON=$PYTHON does not run, or is not Python 3.11, 3.12 or 3.13."
    die "Python 3.11, 3.12 or 3.13 is needed (Debian: apt-get install python3 python3-venv)."
}

# ensure_venv [extras]: create .venv and install the project (with extras) when setup.cfg changed.
ensure_venv() {
    local extras=${1:-} spec=. stamp
    [ -n "$extras" ] && spec=".[$extras]"
    if [ ! -x "$VENV/bin/python" ]; then
        say "creating $VENV"
        "$(find_python)" -m venv "$VENV" || die "could not create a virtualenv (Debian: apt-get install python3-venv)"
    fi
    local hash
    hash=$(cat "$ROOT/setup.cfg" "$ROOT/pyproject.toml" | sha256sum | cut -c1-16)
    stamp="$VENV/.installed-$hash-${extras:-base}"
    # the base install is part of every install with extras; the test extra includes every other one
    if [ ! -f "$stamp" ] && [ ! -f "$VENV/.installed-$hash-test" ] &&
        { [ -n "$extras" ] || ! compgen -G "$VENV/.installed-$hash-*" >/dev/null; }; then
        say "installing the project ($spec) into $VENV"
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$ROOT$([ -n "$extras" ] && echo "[$extras]")" \
            || die "pip install failed"
        touch "$stamp"
    fi
}

# host and port of a URI, with a default port; of the first one, for a list (uri1;uri2) or
# a URI naming several hosts (redis+sentinel://h1:p1,h2:p2/...)
uri_host_port() {
    "$VENV/bin/python" - "$1" "$2" <<'PY'
import sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1].split(";")[0].strip())
first = u.netloc.rsplit("@", 1)[-1].split(",")[0]
u = urllib.parse.urlsplit(f"{u.scheme}://{first}")
print(u.hostname or "localhost", u.port or int(sys.argv[2]))
PY
}

reachable() { "$VENV/bin/python" -c 'import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 2).close()' "$1" "$2" 2>/dev/null; }

is_local() { case "$1" in localhost|127.*|::1) return 0;; *) return 1;; esac; }

wait_for() {  # wait_for host port seconds name
    local i
    for ((i = 0; i < $3 * 5; i++)); do reachable "$1" "$2" && return 0; sleep 0.2; done
    die "$4 did not start listening on $1:$2 within $3s"
}

COMPOSE_HINT="or start both with Docker: docker compose -f compose/docker-compose.yml up -d rabbitmq redis"

# ensure_service NAME URI DEFAULT_PORT SERVER_COMMAND START...: make sure something listens at URI's
# host and port; on this machine, start SERVER_COMMAND's server when it is installed.
ensure_service() {
    local name=$1 uri=$2 default_port=$3 server=$4 host port
    shift 4
    read -r host port < <(uri_host_port "$uri" "$default_port")
    reachable "$host" "$port" && return 0
    is_local "$host" || die "$name is not reachable at $host:$port."
    command -v "$server" >/dev/null 2>&1 ||
        die "$name is not running at $host:$port and $server is not installed. Install it (Debian: apt-get install $server), $COMPOSE_HINT"
    say "starting a local $name: $*"
    "$@" >/dev/null 2>&1 || die "$server failed to start (as root, or as its own user)"
    wait_for "$host" "$port" 90 "$name"
}

ensure_rabbitmq() {  # a local rabbitmq-server listens where its own configuration says: 5672
    local uri=${AMQP_URI:-amqp://guest:guest@localhost:5672/} port
    read -r _ port < <(uri_host_port "$uri" 5672)
    [ "$port" = 5672 ] || reachable "$(uri_host_port "$uri" 5672 | cut -d' ' -f1)" "$port" ||
        die "RabbitMQ is not reachable at port $port (AMQP_URI); start it there yourself."
    ensure_service RabbitMQ "$uri" 5672 rabbitmq-server rabbitmq-server -detached
}

ensure_redis() {  # with an append-only file in .run/, as the compose file runs it
    local port
    case "${REDIS_URI:-}" in  # a Sentinel set is started by its owner (devstack/redis_sentinel.py)
        redis+sentinel://* | rediss+sentinel://*) return 0 ;;
    esac
    read -r _ port < <(uri_host_port "${REDIS_URI:-redis://localhost:6379/0}" 6379)
    mkdir -p "$RUN_DIR"
    ensure_service Redis "${REDIS_URI:-redis://localhost:6379/0}" 6379 redis-server \
        redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --dir "$RUN_DIR" \
        --appendonly yes --appendfsync everysec --logfile "$RUN_DIR/redis.log"
}

# ensure_commands command=debian-package ...: install the Debian packages whose commands are missing.
ensure_commands() {
    local pair command package missing=()
    for pair in "$@"; do
        command=${pair%%=*} package=${pair#*=}
        command -v "$command" >/dev/null 2>&1 || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        say "installing ${missing[*]} (apt-get)"
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } >/dev/null ||
            die "apt-get install ${missing[*]} failed"
    else
        die "the tests need: ${missing[*]} (Debian: sudo apt-get install ${missing[*]})"
    fi
}

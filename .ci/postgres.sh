#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests and benchmarks (issue 16).
#
#   .ci/postgres.sh start DIR   # new cluster in DIR on 127.0.0.1, a free port; prints its URL last:
#                               #   postgresql://nas:nas@127.0.0.1:PORT/nas
#   .ci/postgres.sh stop DIR    # stops it (fast shutdown) and removes DIR
#
# User `nas`, password `nas` (a superuser, so tests can create databases). TCP asks for the
# password (scram-sha-256); the Unix socket in DIR/socket trusts local users. Binaries: the
# newest /usr/lib/postgresql/*/bin (Debian's `postgresql`), $NAS_TEST_POSTGRES_BIN_DIR if set,
# else initdb on PATH. PostgreSQL refuses to run as root, so as root the server runs as the
# `postgres` user, who then owns DIR (DIR's parents must let that user through, as /tmp does).
set -euo pipefail

die() { echo "postgres.sh: $*" >&2; exit 1; }

bin_dir() {
  if [ -n "${NAS_TEST_POSTGRES_BIN_DIR:-}" ]; then
    echo "$NAS_TEST_POSTGRES_BIN_DIR"
  elif compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
    dirname "$(ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)"
  elif command -v initdb >/dev/null; then
    dirname "$(command -v initdb)"
  else
    die "no PostgreSQL binaries (apt-get install postgresql, or set NAS_TEST_POSTGRES_BIN_DIR)"
  fi
}

as_server_user() {  # run a command as the user that owns the cluster
  if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
  local dir=$1 bin port
  bin=$(bin_dir)
  [ -x "$bin/initdb" ] || die "no initdb in $bin"
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  [ -z "$(ls -A "$dir")" ] || die "$dir is not empty"
  touch "$dir/.nas-postgres"  # `stop` removes only directories holding this mark
  mkdir "$dir/socket"
  echo nas > "$dir/password"
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || die "running as root needs a 'postgres' user to run the server"
    chown -R postgres: "$dir"
  fi
  chmod 700 "$dir"
  as_server_user test -w "$dir" || die "the server user cannot write to $dir (check its parents' permissions)"
  as_server_user "$bin/initdb" -D "$dir/data" -U nas --pwfile="$dir/password" -E UTF8 --locale=C \
    --auth-local=trust --auth-host=scram-sha-256 --no-sync >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  for _ in 1 2 3; do  # another process may take the free port before the server does
    port=$(free_port)
    echo "$port" > "$dir/port"
    if as_server_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 -s \
        -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories='$dir/socket'" start >&2; then
      as_server_user "$bin/createdb" -h "$dir/socket" -p "$port" -U nas nas
      echo "postgresql://nas:nas@127.0.0.1:$port/nas"
      return
    fi
  done
  tail -n 20 "$dir/server.log" >&2 || true
  die "the server did not start"
}

stop() {
  local dir=$1
  [ -d "$dir" ] || return 0
  rmdir "$dir" 2>/dev/null && return 0  # empty: `start` failed before it made anything
  [ -e "$dir/.nas-postgres" ] || die "$dir was not made by '$0 start'; not removing it"
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_server_user "$(bin_dir)/pg_ctl" -D "$dir/data" -m fast -w -s stop >&2 || true
  fi
  rm -rf "$dir"
}

case "${1:-} ${2:-}" in
  "start "?*) start "$2" ;;
  "stop "?*) stop "$2" ;;
  *) die "usage: $0 start|stop DIR" ;;
esac

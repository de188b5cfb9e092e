#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests of the generated SQL: `start DIR` installs
# PostgreSQL when it is absent, creates a cluster in DIR (owned by an unprivileged user
# when run as root, as PostgreSQL requires) and starts it listening only on a Unix socket
# in DIR; `stop DIR` stops it and removes DIR. Prints the connection string on start.
# Usage: bash scripts/postgres.sh start|stop DIR
set -euo pipefail

command=${1:?start or stop}
dir=${2:?a directory}
port=${CAAS_PG_PORT:-54329}
owner=caas_test

find_bin() {
    command -v "$1" 2>/dev/null || ls /usr/lib/postgresql/*/bin/"$1" 2>/dev/null | sort -V | tail -n 1
}

as_owner=()
if [ "$(id -u)" = 0 ]; then
    as_owner=(runuser -u "$owner" --)
fi

case "$command" in
start)
    if [ -z "$(find_bin initdb)" ]; then
        echo "PostgreSQL is not installed: installing it" >&2
        apt-get install -y -q postgresql > /dev/null
    fi
    initdb=$(find_bin initdb)
    pg_ctl=$(find_bin pg_ctl)
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then
        id -u "$owner" > /dev/null 2>&1 || useradd --system --no-create-home "$owner"
        chown "$owner" "$dir"
    fi
    "${as_owner[@]}" "$initdb" -D "$dir/data" -U caas --auth=trust --no-sync -E UTF8 > "$dir/initdb.log"
    "${as_owner[@]}" "$pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -o \
        "-c listen_addresses='' -c unix_socket_directories='$dir' -p $port -c fsync=off" \
        start > /dev/null
    echo "host=$dir port=$port user=caas dbname=postgres"
    ;;
stop)
    if [ -d "$dir/data" ]; then
        "${as_owner[@]}" "$(find_bin pg_ctl)" -D "$dir/data" -m fast -w stop > /dev/null || true
    fi
    rm -rf "$dir"
    ;;
*)
    echo "usage: $0 start|stop DIR" >&2
    exit 2
    ;;
esac

#!/usr/bin/env bash
# Starts a throwaway PostgreSQL on 127.0.0.1 for the registry tests and prints its SQLAlchemy URL.
# Installs Debian's PostgreSQL when the machine lacks it. Everything goes to stderr but the URL.
set -euo pipefail
# A free loopback port unless one is given: a server left from an earlier run must not stop this one.
port=${PGPORT_TEST:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql; } >&2
fi
bin=$(dirname "$(ls /usr/lib/postgresql/*/bin/pg_ctl | sort -V | tail -n 1)")
# The server's folder: PG_DIR (empty, made by the caller, so it can stop the server with
# .ci/stop-postgres.sh) or a new one.
data=${PG_DIR:-$(mktemp -d /tmp/automl-video-pg.XXXXXX)}
id -u postgres >/dev/null 2>&1 || useradd --system --home "$data" postgres >&2
chown postgres "$data"
runuser -u postgres -- "$bin/initdb" -D "$data/db" -A trust -U postgres >&2
runuser -u postgres -- "$bin/pg_ctl" -D "$data/db" -l "$data/log" -w \
  -o "-h 127.0.0.1 -p $port -k $data" start >&2
runuser -u postgres -- "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres automl_video_test >&2
echo "postgresql+psycopg2://postgres@127.0.0.1:$port/automl_video_test"

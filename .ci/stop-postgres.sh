#!/usr/bin/env bash
# Stops the PostgreSQL that start-postgres.sh started in the folder DIR, and deletes the folder.
set -uo pipefail
dir=$1
if [ -f "$dir/db/postmaster.pid" ]; then
  bin=$(dirname "$(ls /usr/lib/postgresql/*/bin/pg_ctl | sort -V | tail -n 1)")
  runuser -u postgres -- "$bin/pg_ctl" -D "$dir/db" -w stop -m fast >&2
fi
rm -rf "$dir"

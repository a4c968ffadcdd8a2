#!/bin/sh
# PostgreSQL for the dev stack. On an empty data directory: initdb, then the app's
# role (login only: no superuser, createdb or createrole, as the postgresql role
# makes it) owning its database. Role, password and database come from
# DATABASE_URL (docker/dev.env), the URL the app connects with.
#   clinic-postgresql          run the server (SIGINT: fast shutdown)
#   clinic-postgresql --ready  healthcheck: pg_isready as the app's role
set -eu
url=${DATABASE_URL:?DATABASE_URL is not set (docker/dev.env)}
rest=${url#*://}
auth=${rest%%@*}
user=${auth%%:*}
password=${auth#*:}
dbname=${rest##*/}
dbname=${dbname%%\?*}
case $url in
  postgres://*:*@*/* | postgresql://*:*@*/*) ;;
  *) echo "clinic-postgresql: DATABASE_URL must be postgresql://USER:PASSWORD@host:port/NAME" >&2; exit 2 ;;
esac
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
if [ "${1:-}" = "--ready" ]; then
  exec "$bin/pg_isready" -q -h 127.0.0.1 -U "$user" -d "$dbname"
fi
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  "$bin/initdb" -D "$PGDATA" -U postgres --auth-local=peer --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
  # The dev network only; the port is published on the host's 127.0.0.1 alone.
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  "$bin/pg_ctl" -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
  # The password reaches psql through its environment (\getenv), not its argv.
  APP_DB_PASSWORD=$password "$bin/psql" -v ON_ERROR_STOP=1 -q -U postgres -d postgres \
    -v user="$user" -v db="$dbname" <<'SQL'
\getenv pw APP_DB_PASSWORD
CREATE ROLE :"user" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'pw';
CREATE DATABASE :"db" OWNER :"user";
SQL
  "$bin/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null
  echo "clinic-postgresql: initialised $PGDATA with role $user and database $dbname"
fi
exec "$bin/postgres" -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/var/run/postgresql

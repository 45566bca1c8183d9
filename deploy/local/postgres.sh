#!/usr/bin/env bash
# Makes sure a local PostgreSQL answers and that the AAM role and databases
# exist. Used by `make run` and `make test`; safe to run any number of times.
#
#   deploy/local/postgres.sh            # ensure server + role aam + databases aam, aam_test
#
# Environment:
#   PGHOST (127.0.0.1) PGPORT (5432)   where the server listens
#   AAM_PG_USER (aam) AAM_PG_PASSWORD (aam)
#   AAM_PG_DATABASES ("aam aam_test")  databases to create when missing
#   PG_CLUSTER_VERSION (15) PG_CLUSTER_NAME (main)  Debian cluster to start
set -euo pipefail

host=${PGHOST:-127.0.0.1}
port=${PGPORT:-5432}
user=${AAM_PG_USER:-aam}
password=${AAM_PG_PASSWORD:-aam}
databases=${AAM_PG_DATABASES:-aam aam_test}
version=${PG_CLUSTER_VERSION:-15}
cluster=${PG_CLUSTER_NAME:-main}

say() { echo "postgres: $*" >&2; }

as_postgres() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	elif [ "$(id -un)" = postgres ]; then
		"$@"
	else
		sudo -n -u postgres -- "$@"
	fi
}

ready() { pg_isready -q -h "$host" -p "$port" -t 2 >/dev/null 2>&1; }

if ! command -v pg_isready >/dev/null 2>&1; then
	say "pg_isready not found: install PostgreSQL (Debian: apt-get install postgresql) or set DATABASE_URL to a reachable server"
	exit 1
fi

if ! ready; then
	if command -v pg_ctlcluster >/dev/null 2>&1; then
		say "not reachable on $host:$port, starting cluster $version/$cluster"
		if [ "$(id -u)" = 0 ]; then
			pg_ctlcluster "$version" "$cluster" start
		else
			sudo -n pg_ctlcluster "$version" "$cluster" start
		fi
	else
		say "not reachable on $host:$port and pg_ctlcluster is not available; start PostgreSQL yourself"
		exit 1
	fi
	for _ in $(seq 1 60); do
		ready && break
		sleep 0.5
	done
	ready || { say "server did not become ready on $host:$port"; exit 1; }
	say "started"
fi

# Role and databases, through the local socket as the postgres superuser.
# When that is not possible (a remote or managed server) the URL's own role
# is expected to exist already.
if as_postgres psql -qtAX -c 'select 1' >/dev/null 2>&1; then
	psql_su() { as_postgres psql -qtAX -v ON_ERROR_STOP=1 "$@"; }
	if [ "$(psql_su -c "select 1 from pg_roles where rolname = '$user'")" != 1 ]; then
		psql_su -c "create role \"$user\" login password '$password' createdb"
		say "created role $user"
	fi
	for db in $databases; do
		if [ "$(psql_su -c "select 1 from pg_database where datname = '$db'")" != 1 ]; then
			psql_su -c "create database \"$db\" owner \"$user\""
			say "created database $db"
		fi
	done
fi

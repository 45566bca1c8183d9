#!/usr/bin/env bash
# Makes sure the Python packages of the benchmark's prototype-style replica
# (FastAPI + SQLAlchemy + httpx under uvicorn, see
# services/internal/bench/replica/app.py) are importable by the system
# Python. Used by `make bench`; safe to run any number of times.
#
# On Debian it installs, when missing, python3-fastapi python3-uvicorn
# python3-httpx python3-sqlalchemy python3-psycopg2 (and uvicorn's fast
# event loop and parser, python3-uvloop python3-httptools) with apt-get,
# as root or through sudo -n. Elsewhere, or without the rights, it says
# what is missing and exits 0: `aam bench` then falls back to its Go
# replica and says so.
#
# Environment:
#   BENCH_PYTHON (/usr/bin/python3)  the interpreter the replica runs with
set -euo pipefail

python=${BENCH_PYTHON:-/usr/bin/python3}
modules="fastapi, uvicorn, httpx, sqlalchemy, psycopg2"
packages="python3-fastapi python3-uvicorn python3-httpx python3-sqlalchemy python3-psycopg2 python3-uvloop python3-httptools"

say() { echo "bench-replica: $*" >&2; }

importable() { [ -x "$python" ] && "$python" -c "import $modules, uvloop, httptools" >/dev/null 2>&1; }

if importable; then
	exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
	say "$python cannot import $modules and apt-get is not available; install them yourself (pip install fastapi uvicorn httpx sqlalchemy psycopg2) or the benchmark uses its Go replica"
	exit 0
fi
say "installing the prototype-style replica's Python packages: $packages"
if [ "$(id -u)" = 0 ]; then
	apt() { DEBIAN_FRONTEND=noninteractive apt-get "$@"; }
elif sudo -n true 2>/dev/null; then
	apt() { sudo -n env DEBIAN_FRONTEND=noninteractive apt-get "$@"; }
else
	say "not root and no sudo -n: run 'apt-get install $packages' yourself, or the benchmark uses its Go replica"
	exit 0
fi
if ! apt install -y --no-install-recommends $packages >/dev/null; then
	say "apt-get install failed; updating the package lists and retrying"
	apt update >/dev/null && apt install -y --no-install-recommends $packages >/dev/null || true
fi
if importable; then
	say "installed"
else
	say "$python still cannot import $modules; the benchmark uses its Go replica"
fi

#!/usr/bin/env bash
# Installs the tools deploy/'s tests run (safe to run any number of times):
#   docker-compose   Debian's docker-compose (1.29): `docker-compose config`
#                    validates docker-compose.yml with .env.example.
# Needs root (or sudo) and Debian's package index.
set -euo pipefail

say() { echo "install-test-tools: $*" >&2; }

if command -v docker-compose >/dev/null 2>&1; then
	say "docker-compose present: $(docker-compose version --short 2>/dev/null || echo unknown version)"
	exit 0
fi

sudo_cmd=()
if [ "$(id -u)" != 0 ]; then
	sudo_cmd=(sudo -n)
fi

say "installing docker-compose (Debian package)"
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends docker-compose >/dev/null
say "docker-compose $(docker-compose version --short 2>/dev/null || echo installed)"

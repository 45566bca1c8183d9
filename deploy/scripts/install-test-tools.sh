#!/usr/bin/env bash
# Installs the tools the tests drive (safe to run any number of times):
#   docker-compose   Debian's docker-compose (1.29): `docker-compose config`
#                    validates docker-compose.yml with .env.example.
#   curl, jq         the README's curl walk through the Airbyte emulator.
#   script           (bsdutils) runs shell recipes under a pseudo-terminal.
#   nats             the nats CLI v0.5.0, from the Go module proxy, for the
#                    recipes in docs/nats-cli.md (installed into the folder
#                    the recipe tests look in first).
# Debian packages need root (or sudo) and Debian's package index.
set -euo pipefail

say() { echo "install-test-tools: $*" >&2; }

sudo_cmd=()
if [ "$(id -u)" != 0 ]; then
	sudo_cmd=(sudo -n)
fi

missing=()
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v jq >/dev/null 2>&1 || missing+=(jq)
command -v script >/dev/null 2>&1 || missing+=(bsdutils)
if [ ${#missing[@]} -gt 0 ]; then
	say "installing ${missing[*]} (Debian packages)"
	export DEBIAN_FRONTEND=noninteractive
	"${sudo_cmd[@]}" apt-get update -qq
	"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
say "docker-compose $(docker-compose version --short 2>/dev/null || echo missing), $(jq --version 2>/dev/null || echo 'jq missing')"

# The nats CLI: where the recipe tests look for it.
tools="$(dirname "$(go env GOCACHE)")/aam-tools/natscli-v0.5.0"
if [ -x "$tools/nats" ]; then
	say "nats CLI present in $tools"
else
	say "installing the nats CLI v0.5.0 from the Go module proxy into $tools"
	mkdir -p "$tools"
	GOBIN="$tools" GOWORK=off GOFLAGS= go install github.com/nats-io/natscli/nats@v0.5.0
	say "nats CLI $("$tools/nats" --version)"
fi

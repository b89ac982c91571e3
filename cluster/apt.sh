#!/usr/bin/env bash
# Install Debian packages non-interactively, running `apt-get update` once per machine boot at most.
set -euo pipefail
missing=()
for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
[ ${#missing[@]} -eq 0 ] && exit 0
stamp=/tmp/.stride-apt-updated
[ -f "$stamp" ] || { apt-get update -qq && touch "$stamp"; }
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

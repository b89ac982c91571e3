#!/usr/bin/env bash
# `make down`: stop what `make up` started, by PID (Ray by `ray stop`).
set -uo pipefail
here="$(dirname "$0")"
"$here/ray.sh" stop
"$here/cassandra.sh" stop
"$here/redis.sh" stop
"$here/postgres.sh" stop

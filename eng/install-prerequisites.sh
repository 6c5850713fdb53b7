#!/usr/bin/env bash
# Installs what running and testing AspirePerf needs on Debian 12 (or a Debian-based image), only when missing.
# Idempotent: a second run installs nothing and takes a second.
set -euo pipefail

packages=(
  postgresql-15              # the workforce database server (binaries in /usr/lib/postgresql/15/bin)
  postgresql-15-hypopg       # hypothetical indexes for the index advisor
  postgresql-15-pg-qualstats # predicate statistics for the index advisor
  redis-server               # the cache
  chromium                   # end-to-end tests drive the dashboard in headless Chromium
  prometheus                 # the Prometheus server the AppHost runs, and promtool (metrics, rules and their unit tests)
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if ((${#missing[@]})); then
  echo "Installing: ${missing[*]}"
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v dotnet >/dev/null; then
  echo "The .NET 10 SDK is required (dotnet not found on PATH)." >&2
  exit 1
fi

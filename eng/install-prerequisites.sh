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

# The OpenAPI linter the test suite runs (Redocly CLI, pinned in eng/openapi-lint/package-lock.json), from the npm
# registry with the machine's Node.js; reinstalled only when the lock file changed.
lint=eng/openapi-lint
if ! command -v node >/dev/null || ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'; then
  echo "Node.js 20.19 or newer is required for the OpenAPI linter (found: $(node --version 2>/dev/null || echo none))." >&2
  exit 1
fi
if ! cmp -s "$lint/package-lock.json" "$lint/node_modules/.installed-lock.json"; then
  echo "Installing the OpenAPI linter (npm ci in $lint)"
  (cd "$lint" && npm ci --no-audit --no-fund --loglevel=error && cp package-lock.json node_modules/.installed-lock.json)
fi

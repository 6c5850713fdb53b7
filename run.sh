#!/usr/bin/env bash
# Runs the whole system from local binaries: postgres, cache, worker, apiservice, dashboard. Ctrl+C stops everything.
set -euo pipefail
cd "$(dirname "$0")"
eng/install-prerequisites.sh
dotnet build AspirePerf.sln -nologo -v quiet
exec dotnet run --no-build --project AppHost.Local -- "$@"

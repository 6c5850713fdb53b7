#!/usr/bin/env bash
# Installs the prerequisites (Debian packages, once), then runs the whole system under the Aspire AppHost:
# dotnet run --project AppHost. Arguments go to the AppHost (e.g. --AppHost:Infrastructure=executables). Ctrl+C stops everything.
set -euo pipefail
cd "$(dirname "$0")"
eng/install-prerequisites.sh
exec dotnet run --project AppHost -- "$@"

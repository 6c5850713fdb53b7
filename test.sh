#!/usr/bin/env bash
# Installs what the tests need, builds, runs every test project, and ends with one summary line.
set -euo pipefail
cd "$(dirname "$0")"
eng/install-prerequisites.sh

results=artifacts/test-results
mkdir -p "$results"
log=$(mktemp)
status=0
dotnet test AspirePerf.sln -nologo \
  --logger "trx" --results-directory "$results" \
  --blame-hang-timeout 10m "$@" 2>&1 | tee "$log" || status=$?

# vstest prints one summary per test assembly; add them up into the plain closing line CI reads.
awk '
  /(Passed|Failed)! +- +Failed:/ {
    for (i = 1; i <= NF; i++) {
      if ($i == "Failed:")  { f += $(i+1) }
      if ($i == "Passed:")  { p += $(i+1) }
      if ($i == "Skipped:") { s += $(i+1) }
    }
    n++
  }
  END { printf "Tests: %d passed, %d failed, %d skipped\n", p, f, s; if (n == 0) exit 1 }
' "$log" || status=1
rm -f "$log"
exit "$status"

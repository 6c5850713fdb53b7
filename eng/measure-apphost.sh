#!/usr/bin/env bash
# Measures the AppHost (executables): start to all-healthy on a first run (fresh cluster, full seeding) and a second
# run (same data folder), when PostgreSQL and Redis first answer within those runs, and idle memory (RSS and PSS) of the
# orchestrator, the Aspire dashboard, the AppHost, the services and the servers. Then, for comparison, the same
# binaries started the way the integration-test fixture starts them (initdb, postgres, redis-server, no orchestrator).
# Usage: eng/measure-apphost.sh [Release|Debug]   (builds nothing: run `dotnet build -c Release AspirePerf.sln` first)
set -euo pipefail
cd "$(dirname "$0")/.."
config=${1:-Release}
dll="artifacts/bin/AspirePerf.AppHost/${config,,}/AspirePerf.AppHost.dll"
work=$(mktemp -d /tmp/aspireperf-measure-XXXXXX); chmod 755 "$work"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pg_port=$(free_port); redis_port=$(free_port)
export ASPNETCORE_ENVIRONMENT=Development DOTNET_ENVIRONMENT=Development ASPIRE_ALLOW_UNSECURED_TRANSPORT=true
export ASPIRE_DASHBOARD_UNSECURED_ALLOW_ANONYMOUS=true ASPNETCORE_URLS=http://localhost:$(free_port)
export ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL=http://localhost:$(free_port) ASPIRE_RESOURCE_SERVICE_ENDPOINT_URL=http://localhost:$(free_port)
export ASPIRE_DASHBOARD_MCP_ENDPOINT_URL=http://localhost:$(free_port)
args=(--AppHost:DataDirectory="$work/data" --AppHost:Ports:Postgres=$pg_port --AppHost:Ports:Cache=$redis_port
      --AppHost:Ports:ApiService=0 --AppHost:Ports:Dashboard=0 --AppHost:Ports:Worker=0)
now() { date +%s.%N; }
since() { python3 -c "print(f'{$(now) - $1:.1f}')"; }

kb() { awk -v f="$1" '$1==f":" {s+=$2} END {print s+0}' "${@:2}" 2>/dev/null || echo 0; }
memory_table() {
  local apphost=$1
  local orchestrators; orchestrators=$(pgrep -f -- "--monitor $apphost " || true)
  local pids="$apphost $orchestrators"
  for o in $orchestrators; do pids="$pids $( (pgrep -P "$o" || true) | tr '\n' ' ')"; done
  local all=$pids frontier=$pids
  while [[ -n "${frontier// }" ]]; do
    local next=""; for p in $frontier; do next="$next $( (pgrep -P "$p" || true) | tr '\n' ' ')"; done
    all="$all $next"; frontier=$next
  done
  echo "| process group | processes | RSS MiB | PSS MiB |"; echo "|---|---|---|---|"
  declare -A rss pss count
  for p in $(echo "$all" | tr ' ' '\n' | sort -un); do
    [[ -r /proc/$p/smaps_rollup ]] || continue
    local name; name=$(cat /proc/$p/comm)
    case "$name" in dcp) g="orchestrator (dcp)";; Aspire.Dashboar) g="Aspire dashboard";; postgres) g="postgres";; redis-server) g="redis-server";;
      AspirePerf.ApiS) g="apiservice";; AspirePerf.Work) g="worker";; AspirePerf.Dash) g="dashboard (ours)";;
      dotnet) if [[ $p == "$apphost" ]]; then g="AppHost"; else g="dotnet (project launchers)"; fi;; *) g="other ($name)";; esac
    rss[$g]=$(( ${rss[$g]:-0} + $(kb Rss /proc/$p/smaps_rollup) )); pss[$g]=$(( ${pss[$g]:-0} + $(kb Pss /proc/$p/smaps_rollup) ))
    count[$g]=$(( ${count[$g]:-0} + 1 ))
  done
  for g in "${!rss[@]}"; do printf '| %s | %d | %d | %d |\n' "$g" "${count[$g]}" $(( rss[$g] / 1024 )) $(( pss[$g] / 1024 )); done | sort
}

run_once() {
  local label=$1
  local log="$work/$label.log" start; start=$(now)
  dotnet "$dll" "${args[@]}" > "$log" 2>&1 &
  local apphost=$! pg_ready="" redis_ready=""
  local pw=""
  until grep -q "AspirePerf is running" "$log"; do
    kill -0 $apphost 2>/dev/null || { echo "AppHost exited:"; tail -20 "$log"; exit 1; }
    [[ -z $pw && -f $work/data/secrets.json ]] && pw=$(python3 -c "import json;print(json.load(open('$work/data/secrets.json'))['PostgresPassword'])")
    if [[ -z $pg_ready && -n $pw ]] && PGPASSWORD=$pw psql -h localhost -p $pg_port -U postgres -d postgres -tAc 'select 1' >/dev/null 2>&1; then pg_ready=$(since "$start"); fi
    if [[ -z $redis_ready ]] && (exec 3<>/dev/tcp/127.0.0.1/$redis_port) 2>/dev/null; then redis_ready=$(since "$start"); fi
    sleep 0.1
  done
  echo "$label: all healthy after $(since "$start") s (postgres answered a query at ${pg_ready:-?} s, redis accepted at ${redis_ready:-?} s)"
  if [[ $label == second ]]; then sleep 30; echo; echo "Idle memory 30 s after all-healthy:"; memory_table $apphost; echo; fi
  kill -TERM $apphost; wait $apphost || true
  # The orchestrator stops the servers in the background after the AppHost exits: let them finish before the next run.
  while pgrep -f -- "$work/data" >/dev/null; do sleep 0.2; done
}

echo "AppHost ($config build), executables, $(nproc) cores"
run_once first
run_once second

echo
echo "Lean fixture steps, same binaries and flags, no orchestrator:"
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1); lean="$work/lean"; mkdir -p "$lean/pg" && chmod 755 "$lean"
as_pg=(); [[ $(id -u) == 0 ]] && { chown postgres "$lean/pg"; as_pg=(setpriv --reuid=postgres --regid=postgres --init-groups --); }
echo secret > "$lean/pw"; chmod 644 "$lean/pw"
start=$(now)
"${as_pg[@]}" "$bin/initdb" -D "$lean/pg" -U postgres --auth=scram-sha-256 --pwfile="$lean/pw" --encoding=UTF8 --locale=C --no-sync >/dev/null
p2=$(free_port); r2=$(free_port)
"${as_pg[@]}" "$bin/postgres" -D "$lean/pg" -c listen_addresses=localhost -c port=$p2 -c unix_socket_directories= -c shared_preload_libraries=pg_stat_statements,pg_qualstats -c fsync=off >/dev/null 2>&1 &
pgpid=$!
redis-server --port $r2 --requirepass secret --bind 127.0.0.1 --save "" --appendonly no --dir "$lean" --loglevel warning >/dev/null &
rpid=$!
until PGPASSWORD=secret psql -h localhost -p $p2 -U postgres -d postgres -tAc 'select 1' >/dev/null 2>&1 && redis-cli -p $r2 -a secret --no-auth-warning ping 2>/dev/null | grep -q PONG; do sleep 0.05; done
echo "lean: initdb + postgres + redis answering after $(since "$start") s"
kill -INT $pgpid; kill -TERM $rpid; wait $pgpid $rpid 2>/dev/null || true
rm -rf "$work"

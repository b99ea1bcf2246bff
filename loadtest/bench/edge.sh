#!/usr/bin/env bash
# The edge against Node, in one sitting: orders and the order->pay flow through the Worker under
# `wrangler dev` (local workerd) and through the Node gateway (`npm start`'s build, one process),
# each on its own redis-server (no persistence), interleaved, RUNS runs of DURATION each.
#
#   RUNS=2 DURATION=5s THREADS=1 CONNS=16 BUYERS=2000 bash loadtest/bench/edge.sh
#   SCENARIOS="noop order flow"   (noop: GET /healthz, no Redis: the HTTP stack's own floor)
#
# Per run: req/s, p50/p99 (wrk, the same Lua scripts as checkout.sh) and Redis connections per
# request (INFO's total_connections_received over the run / requests). Raw output and the
# summary go to loadtest/bench/results/edge-<time>/. Short by default: the machine is shared.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
SCENARIOS="${SCENARIOS:-noop order flow}"; RUNS="${RUNS:-2}"; DURATION="${DURATION:-5s}"; THREADS="${THREADS:-1}"; CONNS="${CONNS:-16}"; BUYERS="${BUYERS:-2000}"
NODE_PORT="${NODE_PORT:-8093}"; EDGE_PORT="${EDGE_PORT:-8094}"; NODE_REDIS="${NODE_REDIS:-6393}"; EDGE_REDIS="${EDGE_REDIS:-6394}"
SECRET="bench-jwt-secret-bench-jwt-secret-0123"; ADMIN="bench-admin-token-0123456789"
for tool in node redis-server redis-cli wrk curl; do
  command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 1; }
done
OUT="$HERE/results/edge-$(date +%Y%m%d-%H%M%S)"; mkdir -p "$OUT"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -- "-$p" 2>/dev/null || kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

for port in "$NODE_REDIS" "$EDGE_REDIS"; do
  setsid redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --loglevel warning >/dev/null &
  PIDS+=($!)
done
(cd "$ROOT" && npm run build --silent)
export REDIS_URL RUSHGATE_JWT_SECRET="$SECRET" RUSHGATE_ADMIN_TOKEN="$ADMIN" RUSHGATE_TOKEN_SECRET="$SECRET" RUSHGATE_LOG_LEVEL=warn
REDIS_URL="redis://127.0.0.1:$NODE_REDIS" PORT="$NODE_PORT" RUSHGATE_WORKER=off RUSHGATE_PROCESSES=1 RUSHGATE_DATA_DIR="$OUT/data" \
  setsid node "$ROOT/dist/runtime/node/gateway.js" >"$OUT/node.log" 2>&1 &
PIDS+=($!)
REDIS_URL="redis://127.0.0.1:$EDGE_REDIS" setsid node "$ROOT/scripts/dev-workers.mjs" --port "$EDGE_PORT" --ip 127.0.0.1 \
  --show-interactive-dev-session=false >"$OUT/edge.log" 2>&1 &
PIDS+=($!)
for side in node edge; do
  port=$([[ $side == node ]] && echo "$NODE_PORT" || echo "$EDGE_PORT")
  for _ in $(seq 300); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done
  curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { echo "$side did not start; see $OUT/$side.log" >&2; exit 1; }
done
(cd "$ROOT" && node loadtest/bench/mint-jwts.mjs "$SECRET" "$BUYERS") >"$OUT/jwts.txt"
export JWT_FILE="$OUT/jwts.txt"
for port in "$NODE_PORT" "$EDGE_PORT"; do
  put() { curl -sS --fail-with-body -o "$OUT/put.txt" -X PUT "http://127.0.0.1:$port$1" -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' -d "$2" >/dev/null; }
  put /admin/sales/bench '{"stock":1000000000,"price":100,"currency":"CNY","perUserLimit":1000,"holdSeconds":86400}'
  put /admin/limits '{"policies":{"orders":{"perUser":{"limit":1000000,"windowSeconds":1}},"payments":{"perUser":{"limit":1000000,"windowSeconds":1}}}}'
done
sleep 1.5   # every instance applies a limits change within 1 s

echo "machine: $(nproc) cores; node $(node --version); wrk -t$THREADS -c$CONNS -d$DURATION x $RUNS runs, interleaved" | tee "$OUT/summary.txt"
printf "%-5s %-6s %3s %9s %8s %8s %9s %8s  %s\n" side scen run rps p50_ms p99_ms requests conn/req codes | tee -a "$OUT/summary.txt"
conns() { redis-cli -p "$1" info stats | tr -d '\r' | awk -F: '$1 == "total_connections_received" { print $2 }'; }
for run in $(seq "$RUNS"); do
  for scen in $SCENARIOS; do
    script="$HERE/wrk/$scen.lua"; [[ $scen == noop ]] && script="$HERE/wrk/fixed.lua"
    sides=(node edge); [[ $((run % 2)) == 0 ]] && sides=(edge node)
    for side in "${sides[@]}"; do
      port=$([[ $side == node ]] && echo "$NODE_PORT" || echo "$EDGE_PORT"); rport=$([[ $side == node ]] && echo "$NODE_REDIS" || echo "$EDGE_REDIS")
      c0="$(conns "$rport")"
      SALE=bench wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" -s "$script" "http://127.0.0.1:$port" >"$OUT/$side-$scen-r$run.txt" 2>&1
      c1="$(conns "$rport")"
      awk -v side="$side" -v scen="$scen" -v run="$run" -v c="$((c1 - c0))" '/^RESULT/ {
        for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        printf "%-5s %-6s %3d %9.0f %8.2f %8.2f %9d %8.3f  %s\n", side, scen, run, v["rps"], v["p50_ms"], v["p99_ms"], v["requests"], c / v["requests"], v["codes"]
      }' "$OUT/$side-$scen-r$run.txt" | tee -a "$OUT/summary.txt"
    done
  done
done

#!/usr/bin/env bash
# Side-by-side benchmark: rushgate's order creation and order->pay flow against the nginx + Lua
# peer (../shared/peers/nginx-lua), on this machine, in one run. Medians of RUNS runs.
#
#   RUNS=3 DURATION=10s THREADS=2 CONNS=64 WARMUP=2s BUYERS=4000 PEER=1 ./checkout.sh
#   SCENARIOS="order flow noop soldout refused"   (the default: all of them)
#   PROCESSES=auto   rushgate's RUSHGATE_PROCESSES (auto: one per core; 1: a single process)
#   PEER_DIR=path/to/nginx-lua   (default: ../shared/peers/nginx-lua beside the project)
#
# rushgate runs as npm start's build (RUSHGATE_PROCESSES=$PROCESSES, worker off: the peer has none) on its own
# redis-server (no persistence);
# the peer runs as its bench.sh starts it (nginx, 2 workers, its own redis-server). The load
# generator is wrk with Lua scripts (wrk/), buyers' JWTs minted beforehand. Raw output and the
# summary go to loadtest/bench/results/<time>/.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
RUNS="${RUNS:-3}"; DURATION="${DURATION:-10s}"; THREADS="${THREADS:-2}"; CONNS="${CONNS:-64}"
WARMUP="${WARMUP:-2s}"; BUYERS="${BUYERS:-4000}"; PEER="${PEER:-1}"; PROCESSES="${PROCESSES:-auto}"
PEER_DIR="${PEER_DIR:-$ROOT/../shared/peers/nginx-lua}"
GW_PORT="${GW_PORT:-8091}"; RG_REDIS_PORT="${RG_REDIS_PORT:-6391}"
SECRET="bench-jwt-secret-bench-jwt-secret-0123"; ADMIN="bench-admin-token-0123456789"

for tool in node redis-server redis-cli wrk curl; do
  command -v "$tool" >/dev/null || { echo "missing: $tool (apt-get install redis-server redis-tools wrk curl)" >&2; exit 1; }
done
OUT="$HERE/results/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"
ROWS="$OUT/rows.tsv"   # who scenario conns run rps p50 p99 non2xx sockerr server_cores redis_cores gen_cores
: >"$ROWS"
HZ="$(getconf CLK_TCK)"

# a process and its descendants (the gateway's cluster children)
tree() { local p; for p in "$@"; do echo "$p"; tree $(pgrep -P "$p" || true); done; }
proc_ticks() { local t=0 p; for p in "$@"; do [[ -r /proc/$p/stat ]] && t=$(( t + $(awk '{sub(/^.*\) /, ""); print $12 + $13}' /proc/$p/stat) )); done; echo "$t"; }
cores() { awk -v t="$1" -v hz="$HZ" -v s="$2" 'BEGIN{printf "%.2f", t/hz/s}'; }

GW_PID=""; REDIS_PID=""
cleanup() {
  [[ -n "$GW_PID" ]] && kill "$GW_PID" 2>/dev/null && wait "$GW_PID" 2>/dev/null || true
  [[ -n "$REDIS_PID" ]] && kill "$REDIS_PID" 2>/dev/null || true
}
trap cleanup EXIT

(cd "$ROOT" && npm run build --silent)
redis-server --port "$RG_REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize no --loglevel warning >/dev/null &
REDIS_PID=$!
for _ in $(seq 50); do redis-cli -p "$RG_REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
PORT="$GW_PORT" REDIS_URL="redis://127.0.0.1:$RG_REDIS_PORT" RUSHGATE_JWT_SECRET="$SECRET" \
  RUSHGATE_ADMIN_TOKEN="$ADMIN" RUSHGATE_TOKEN_SECRET="$SECRET" RUSHGATE_LOG_LEVEL=warn RUSHGATE_WORKER=off RUSHGATE_PROCESSES="$PROCESSES" \
  RUSHGATE_DATA_DIR="$OUT/data" node "$ROOT/dist/runtime/node/main.js" >"$OUT/gateway.log" 2>&1 &
GW_PID=$!
BASE="http://127.0.0.1:$GW_PORT"
for _ in $(seq 100); do curl -sf "$BASE/readyz" >/dev/null && break; sleep 0.1; done
curl -sf -X PUT "$BASE/admin/sales/bench" -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
  -d '{"stock":1000000000,"price":100,"currency":"CNY","perUserLimit":1000,"holdSeconds":86400}' >/dev/null
# the benchmark measures admitted requests: limits high enough to refuse none
curl -sf -X PUT "$BASE/admin/limits" -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
  -d '{"policies":{"orders":{"perUser":{"limit":1000000,"windowSeconds":1}},"payments":{"perUser":{"limit":1000000,"windowSeconds":1}}}}' >/dev/null
(cd "$ROOT" && node loadtest/bench/mint-jwts.mjs "$SECRET" "$BUYERS") >"$OUT/jwts.txt"
export JWT_FILE="$OUT/jwts.txt" SALE=bench

echo "machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo); node $(node --version);" \
     "redis $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/'); wrk -t$THREADS -c$CONNS -d$DURATION x $RUNS runs" | tee "$OUT/machine.txt"
head -1 "$OUT/jwts.txt" >"$OUT/one-buyer.txt"
# a sale with nothing left: its orders are the sold-out refusals
curl -sf -X PUT "$BASE/admin/sales/gone" -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
  -d '{"stock":1,"price":100,"currency":"CNY","holdSeconds":86400}' >/dev/null
curl -sf -X POST "$BASE/v1/sales/gone/orders" -H "Authorization: Bearer $(head -1 "$OUT/jwts.txt")" -H 'Content-Type: application/json' -d '{}' >/dev/null
for scen in ${SCENARIOS:-order flow noop soldout refused}; do
  script="$HERE/wrk/$scen.lua"; export SALE=bench
  case "$scen" in
    noop) script="$HERE/wrk/fixed.lua"; export TARGET=healthz ;;
    soldout) script="$HERE/wrk/fixed.lua"; export TARGET=order SALE=gone ;;
    refused)
      # the cost of refusing: one buyer over a 1-per-minute order limit, every request a 429
      curl -sf -X PUT "$BASE/admin/limits" -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
        -d '{"policies":{"orders":{"perUser":{"limit":1,"windowSeconds":60}},"payments":{"perUser":{"limit":1,"windowSeconds":60}}}}' >/dev/null
      sleep 1.5   # every instance applies a change within 1 s
      script="$HERE/wrk/fixed.lua"; export TARGET=order SALE=bench ;;
  esac
  if [[ "$scen" == soldout || "$scen" == refused ]]; then
    # the fixed-request script counts no codes: check that this scenario is answered as it should
    want=$([[ "$scen" == soldout ]] && echo 409 || echo 429)
    # (twice: the first may still be admitted when this scenario runs alone)
    got="$(curl -s -o /dev/null -w '%{http_code}' -X POST "$BASE/v1/sales/$SALE/orders" -H "Authorization: Bearer $(head -1 "$JWT_FILE")" -H 'Content-Type: application/json' -d '{"quantity":1}')"
    got="$(curl -s -o /dev/null -w '%{http_code}' -X POST "$BASE/v1/sales/$SALE/orders" -H "Authorization: Bearer $(head -1 "$JWT_FILE")" -H 'Content-Type: application/json' -d '{"quantity":1}')"
    [[ "$got" == "$want" ]] || { echo "$scen: expected $want, got $got" >&2; exit 1; }
  fi
  wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" -s "$script" "$BASE" >/dev/null
  for run in $(seq "$RUNS"); do
    raw="$OUT/rushgate-$scen-r$run.txt"; tf="$(mktemp)"
    g0="$(proc_ticks $(tree "$GW_PID"))"; r0="$(proc_ticks "$REDIS_PID")"; t0="$(date +%s.%N)"
    /usr/bin/time -f "%U %S" -o "$tf" wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" -s "$script" "$BASE" >"$raw" 2>&1
    t1="$(date +%s.%N)"; g1="$(proc_ticks $(tree "$GW_PID"))"; r1="$(proc_ticks "$REDIS_PID")"
    wall="$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')"
    gen="$(awk -v w="$wall" '{printf "%.2f", ($1+$2)/w}' "$tf")"; rm -f "$tf"
    line="$(grep '^RESULT' "$raw")"
    echo "  rushgate $scen run $run: $line"
    awk -v s="$scen" -v c="$CONNS" -v r="$run" -v gw="$(cores $((g1 - g0)) "$wall")" -v rd="$(cores $((r1 - r0)) "$wall")" -v gen="$gen" '
      { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
      END { printf "rushgate\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s, c, r, v["rps"], v["p50_ms"], v["p99_ms"], v["non2xx"], v["sockerr"], gw, rd, gen }' <<<"$line" >>"$ROWS"
  done
done
cleanup; GW_PID=""; REDIS_PID=""

if [[ "$PEER" == 1 ]]; then
  if command -v nginx >/dev/null && [[ -x "$PEER_DIR/bench.sh" ]]; then
    peer="$(mktemp -d)"; cp -r "$PEER_DIR/." "$peer/"; chmod -R u+w "$peer"
    echo "peer: $PEER_DIR (run from a copy in $peer)"
    (cd "$peer" && RUNS="$RUNS" DURATION="$DURATION" THREADS="$THREADS" CONNS="$CONNS" WARMUP="$WARMUP" \
      SCENARIOS="token flow" REDIS_BENCH=0 ./bench.sh) >"$OUT/peer.txt" 2>&1 || { echo "peer bench failed: $OUT/peer.txt" >&2; tail -20 "$OUT/peer.txt" >&2; }
    # peer rows: kind name conns run rps p50 p99 non2xx sockerr bg ngx rds gen other
    awk -F'\t' '$1 == "wrk" { n = ($2 == "token" ? "order" : $2); printf "peer\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", n, $3, $4, $5, $6, $7, $8, $9, $11, $12, $13 }' \
      "$peer"/run/bench-*/rows.tsv >>"$ROWS" || true
    rm -rf "$peer"
  else
    echo "peer skipped: nginx or $PEER_DIR/bench.sh not found (apt-get install nginx-light libnginx-mod-http-lua lua-nginx-redis)"
  fi
fi

{
  echo
  echo "Medians over $RUNS runs (spread = (max-min)/median of rps). server = gateway process (rushgate: node; peer: nginx workers), in cores."
  printf "%-9s %-7s %9s %7s %8s %8s %8s %7s %6s %5s %7s\n" who scen rps spread p50_ms p99_ms errs server redis gen us/req
  sort -t$'\t' -k1,1 -k2,2 -k5,5n "$ROWS" | awk -F'\t' '
    function srt(a, n,   i, j, t) { for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t } }
    function med(a, n) { srt(a, n); return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
    { k = $1 "\t" $2; n[k]++; rps[k, n[k]] = $5; p50[k, n[k]] = $6; p99[k, n[k]] = $7; err[k] += $8 + $9
      sv[k, n[k]] = $10; rd[k, n[k]] = $11; gn[k, n[k]] = $12; if (!(k in seen)) { seen[k] = 1; order[++m] = k } }
    END {
      for (i = 1; i <= m; i++) {
        k = order[i]; c = n[k]
        for (j = 1; j <= c; j++) { a[j] = rps[k, j]; b[j] = p50[k, j]; d[j] = p99[k, j]; e[j] = sv[k, j]; f[j] = rd[k, j]; g[j] = gn[k, j] }
        split(k, w, "\t"); r = med(a, c); R[k] = r
        printf "%-9s %-7s %9.0f %6.1f%% %8.2f %8.2f %8d %7.2f %6.2f %5.2f %7.1f\n", w[1], w[2], r, 100 * (a[c] - a[1]) / r, med(b, c), med(d, c), err[k], med(e, c), med(f, c), med(g, c), 1e6 * med(e, c) / r
        RC[k] = med(f, c); US[k] = 1e6 * med(e, c) / r
      }
      print ""
      for (s in R) { split(s, w, "\t"); if (w[1] == "rushgate" && ("peer\t" w[2]) in R)
        printf "ratio rushgate/peer, %s: throughput %.2fx; redis cores per 1k req/s: rushgate %.3f, peer %.3f\n", w[2], R[s] / R["peer\t" w[2]], 1000 * RC[s] / R[s], 1000 * RC["peer\t" w[2]] / R["peer\t" w[2]] }
      if (("rushgate\tnoop") in R) for (sc in R) { split(sc, w, "\t"); if (w[1] == "rushgate" && (w[2] == "soldout" || w[2] == "refused"))
        printf "cost of refusing, %s: %.0f req/s, %.2fx the no-op route (GET /healthz, %.0f req/s); gateway CPU %.1f us/request against the no-op route'"'"'s %.1f us (%.2fx its cost)\n", w[2], R[sc], R[sc] / R["rushgate\tnoop"], R["rushgate\tnoop"], US[sc], US["rushgate\tnoop"], US[sc] / US["rushgate\tnoop"] }
      # a completed checkout is one order and one payment: two requests of the flow
      if (("rushgate\tflow") in R && ("peer\tflow") in R) {
        ours = 1e6 * RC["rushgate\tflow"] / (R["rushgate\tflow"] / 2); theirs = 1e6 * RC["peer\tflow"] / (R["peer\tflow"] / 2)
        printf "redis CPU per completed checkout: rushgate %.1f us, peer %.1f us (%.2fx)\n", ours, theirs, ours / theirs
      }
    }'
} | tee "$OUT/summary.txt"

#!/usr/bin/env bash
# Side-by-side benchmark: rushgate's order creation and order->pay flow against the nginx + Lua
# peer (PEER_DIR), on this machine, in one sitting, interleaved. Medians of RUNS runs.
#
#   RUNS=3 DURATION=10s THREADS=2 CONNS=64 WARMUP=2s BUYERS=4000 PEER=1 ./checkout.sh
#   SCENARIOS="order flow noop post soldout refused"   (the default: all of them)
#   PROCESSES=auto   rushgate's RUSHGATE_PROCESSES (auto: one per core; 1: a single process)
#   PEER_DIR=path/to/nginx-lua   (default: ../shared/peers/nginx-lua beside the project)
#   FSYNC=off        rushgate's redis-server persistence: off (as the peer's), everysec or always
#                    (the AOF fsync of npm start's embedded Redis; always is its default)
#   QUIET_MAX=0.3 QUIET_WAIT=20   before every measured run, wait (QUIET_WAIT s at most) until the
#                                 machine's busy cores, over 1 s, are under QUIET_MAX
#
# Both servers are up for the whole sitting, each on its own redis-server (no persistence):
# rushgate as npm start's build (RUSHGATE_PROCESSES=$PROCESSES, worker off: the peer has none),
# the peer from a temporary copy of PEER_DIR with its own start.sh / stop.sh (nginx, 2 workers).
# For each run index, every scenario runs in turn; a scenario both have (order = the peer's
# /token, flow = its /token -> /pay, with the peer's own wrk scripts) runs on one side, then the
# other, rushgate first on odd runs and the peer first on even ones. So both are measured in the
# same minutes, and a noisy minute hurts both. Each measured run first waits for a quiet machine
# (the same rule for both sides).
#
# CPU per measured run, from /proc (user + system): the gateway (rushgate: node and its cluster
# children; peer: the nginx master and workers), its redis-server (cross-checked with Redis's own
# INFO cpu), and wrk (/usr/bin/time). Printed as cores and as CPU microseconds per request.
# The load generator is wrk with Lua scripts (wrk/), buyers' JWTs minted beforehand. Raw output
# and the summary go to loadtest/bench/results/<time>/.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
RUNS="${RUNS:-3}"; DURATION="${DURATION:-10s}"; THREADS="${THREADS:-2}"; CONNS="${CONNS:-64}"
WARMUP="${WARMUP:-2s}"; BUYERS="${BUYERS:-4000}"; PEER="${PEER:-1}"; PROCESSES="${PROCESSES:-auto}"
SCENARIOS="${SCENARIOS:-order flow noop post soldout refused}"
QUIET_MAX="${QUIET_MAX:-0.3}"; QUIET_WAIT="${QUIET_WAIT:-20}"
PEER_DIR="${PEER_DIR:-$ROOT/../shared/peers/nginx-lua}"
GW_PORT="${GW_PORT:-8091}"; RG_REDIS_PORT="${RG_REDIS_PORT:-6391}"
PEER_REDIS_PORT="${PEER_REDIS_PORT:-6390}"; PEER_BASE="http://127.0.0.1:8090"   # the port is in the peer's nginx.conf
SECRET="bench-jwt-secret-bench-jwt-secret-0123"; ADMIN="bench-admin-token-0123456789"

for tool in node redis-server redis-cli wrk curl; do
  command -v "$tool" >/dev/null || { echo "missing: $tool (apt-get install redis-server redis-tools wrk curl)" >&2; exit 1; }
done
[[ -x /usr/bin/time ]] || { echo "missing: /usr/bin/time (apt-get install time)" >&2; exit 1; }
for scen in $SCENARIOS; do
  case "$scen" in order|flow|noop|post|soldout|refused) ;; *) echo "unknown scenario: $scen" >&2; exit 1 ;; esac
done
OUT="$HERE/results/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"
ROWS="$OUT/rows.tsv"
# who scen conns run first rps p50 p99 non2xx sockerr requests wall bg gw_s redis_s redis_info_s wrk_s
: >"$ROWS"
HZ="$(getconf CLK_TCK)"

# a process and its descendants (the gateway's cluster children, nginx's workers)
tree() { local p; for p in "$@"; do echo "$p"; tree $(pgrep -P "$p" || true); done; }
proc_ticks() { local t=0 p; for p in "$@"; do [[ -r /proc/$p/stat ]] && t=$(( t + $(awk '{sub(/^.*\) /, ""); print $12 + $13}' /proc/$p/stat) )); done; echo "$t"; }
# Redis's own account of its CPU (getrusage, all threads): used_cpu_sys + used_cpu_user, seconds
redis_info_cpu() { redis-cli -h 127.0.0.1 -p "$1" info cpu | tr -d '\r' | awk -F: '$1 == "used_cpu_sys" || $1 == "used_cpu_user" { s += $2 } END { printf "%.6f", s }'; }
# microseconds Redis spent running scripts (INFO commandstats of EVAL and EVALSHA): the script
# bodies' share of its CPU; the rest is reading, parsing and answering commands
redis_script_s() { redis-cli -h 127.0.0.1 -p "$1" info commandstats | tr -d '\r' | awk -F'[:,=]' '$1 ~ /^cmdstat_eval(sha)?$/ { s += $5 } END { printf "%.6f", s / 1e6 }'; }
stat_busy() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat; }   # machine-wide busy ticks
# Waits until the whole machine is quiet (under QUIET_MAX busy cores over 1 s, QUIET_WAIT s at
# most) and prints the last reading: what the other tenants (and idle servers) use before a run.
quiet() {
  local b0 b1 bg waited=0
  while :; do
    b0="$(stat_busy)"; sleep 1; b1="$(stat_busy)"
    bg="$(awk -v t="$((b1 - b0))" -v hz="$HZ" 'BEGIN{printf "%.2f", t/hz}')"
    if awk -v b="$bg" -v m="$QUIET_MAX" 'BEGIN{exit !(b < m)}' || (( waited >= QUIET_WAIT )); then break; fi
    (( waited == 0 )) && echo "  (machine busy: $bg cores in use; waiting up to ${QUIET_WAIT}s)" >&2
    waited=$(( waited + 1 ))
  done
  echo "$bg"
}

GW_PID=""; REDIS_PID=""; PEER_COPY=""; PEER_UP=0
cleanup() {
  if [[ -n "$GW_PID" ]]; then kill "$GW_PID" 2>/dev/null && wait "$GW_PID" 2>/dev/null || true; fi
  if [[ -n "$REDIS_PID" ]]; then kill "$REDIS_PID" 2>/dev/null || true; fi
  if [[ -n "$PEER_COPY" ]]; then
    (cd "$PEER_COPY" && REDIS_PORT="$PEER_REDIS_PORT" ./stop.sh >/dev/null 2>&1) || true
    rm -rf "$PEER_COPY"
  fi
  GW_PID=""; REDIS_PID=""; PEER_COPY=""
}
trap cleanup EXIT

# --- rushgate ---------------------------------------------------------------------------------
(cd "$ROOT" && npm run build --silent)
case "${FSYNC:-off}" in
  off) persist=(--appendonly no) ;;
  everysec|always) mkdir -p "$OUT/redis"; persist=(--appendonly yes --appendfsync "$FSYNC" --dir "$OUT/redis") ;;
  *) echo "FSYNC must be off, everysec or always" >&2; exit 2 ;;
esac
echo "rushgate's redis-server: persistence ${FSYNC:-off}"
redis-server --port "$RG_REDIS_PORT" --bind 127.0.0.1 --save "" "${persist[@]}" --daemonize no --loglevel warning >/dev/null &
REDIS_PID=$!
for _ in $(seq 50); do redis-cli -p "$RG_REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
PORT="$GW_PORT" REDIS_URL="redis://127.0.0.1:$RG_REDIS_PORT" RUSHGATE_JWT_SECRET="$SECRET" \
  RUSHGATE_ADMIN_TOKEN="$ADMIN" RUSHGATE_TOKEN_SECRET="$SECRET" RUSHGATE_LOG_LEVEL=warn RUSHGATE_WORKER=off RUSHGATE_PROCESSES="$PROCESSES" \
  RUSHGATE_DATA_DIR="$OUT/data" node "$ROOT/dist/runtime/node/gateway.js" >"$OUT/gateway.log" 2>&1 &
GW_PID=$!
BASE="http://127.0.0.1:$GW_PORT"
for _ in $(seq 100); do curl -sf "$BASE/readyz" >/dev/null && break; sleep 0.1; done
curl -sf "$BASE/readyz" >/dev/null || { echo "the gateway is not ready; see $OUT/gateway.log" >&2; exit 1; }
admin() { curl -sf -X PUT "$BASE$1" -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' -d "$2" >/dev/null; }
admin /admin/sales/bench '{"stock":1000000000,"price":100,"currency":"CNY","perUserLimit":1000,"holdSeconds":86400}'
(cd "$ROOT" && node loadtest/bench/mint-jwts.mjs "$SECRET" "$BUYERS") >"$OUT/jwts.txt"
export JWT_FILE="$OUT/jwts.txt"
# a sale with nothing left: its orders are the sold-out refusals
admin /admin/sales/gone '{"stock":1,"price":100,"currency":"CNY","holdSeconds":86400}'
curl -sf -X POST "$BASE/v1/sales/gone/orders" -H "Authorization: Bearer $(head -1 "$JWT_FILE")" -H 'Content-Type: application/json' -d '{}' >/dev/null
# The limits: high enough to refuse nobody, except in `refused`, where one buyer is over a
# 1-per-minute order limit (every request a 429). Switched back and forth as the scenarios come.
LIMITS=""
limits() {
  [[ "$LIMITS" == "$1" ]] && return 0
  if [[ "$1" == high ]]; then
    admin /admin/limits '{"policies":{"orders":{"perUser":{"limit":1000000,"windowSeconds":1}},"payments":{"perUser":{"limit":1000000,"windowSeconds":1}}}}'
  else
    admin /admin/limits '{"policies":{"orders":{"perUser":{"limit":1,"windowSeconds":60}},"payments":{"perUser":{"limit":1,"windowSeconds":60}}}}'
  fi
  LIMITS="$1"
  sleep 1.5   # every instance applies a change within 1 s
}
limits high

# --- the peer ---------------------------------------------------------------------------------
if [[ "$PEER" == 1 ]]; then
  if command -v nginx >/dev/null && [[ -x "$PEER_DIR/start.sh" && -x "$PEER_DIR/stop.sh" ]]; then
    if (exec 3<>/dev/tcp/127.0.0.1/8090) 2>/dev/null || redis-cli -p "$PEER_REDIS_PORT" ping >/dev/null 2>&1; then
      echo "the peer's ports are taken (127.0.0.1:8090 or redis :$PEER_REDIS_PORT): is another bench running? PEER=0 skips the peer" >&2
      exit 1
    fi
    PEER_COPY="$(mktemp -d)"; cp -r "$PEER_DIR/." "$PEER_COPY/"; chmod -R u+w "$PEER_COPY"; rm -rf "$PEER_COPY/run"
    if ! (cd "$PEER_COPY" && REDIS_PORT="$PEER_REDIS_PORT" ./start.sh && REDIS_PORT="$PEER_REDIS_PORT" ./smoke.sh) >"$OUT/peer-start.txt" 2>&1; then
      echo "the peer did not start or failed its smoke test: $OUT/peer-start.txt" >&2; tail -20 "$OUT/peer-start.txt" >&2; exit 1
    fi
    PEER_NGINX_PID="$(cat "$PEER_COPY/run/nginx.pid")"; PEER_REDIS_PID="$(cat "$PEER_COPY/run/redis.pid")"
    PEER_UP=1
    echo "peer: $PEER_DIR (running from a copy in $PEER_COPY), nginx $(nginx -v 2>&1 | sed 's/.*\///')" \
         "with $(( $(tree "$PEER_NGINX_PID" | wc -l) - 1 )) workers"
  else
    echo "peer skipped: nginx or $PEER_DIR/start.sh not found (apt-get install nginx-light libnginx-mod-http-lua lua-nginx-redis)"
  fi
fi
# the peer's state before each of its runs, as its bench.sh does: empty, and stock for sale s1
peer_reset() { redis-cli -p "$PEER_REDIS_PORT" flushall >/dev/null; redis-cli -p "$PEER_REDIS_PORT" set stock:s1 1000000000 >/dev/null; }

echo "machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo); node $(node --version);" \
     "redis $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/'); rushgate: $(tree "$GW_PID" | wc -l) node process(es);" \
     "wrk -t$THREADS -c$CONNS -d$DURATION x $RUNS runs, interleaved; quiet: < $QUIET_MAX cores (${QUIET_WAIT}s at most)" | tee "$OUT/machine.txt"

# --- one side, one scenario: its wrk command ----------------------------------------------------
# sets WHAT (env + script + url) for WHO and SCEN; the rushgate side also checks its preconditions
prepare() {
  local who="$1" scen="$2" want got
  if [[ "$who" == peer ]]; then
    peer_reset
    WRK_ENV=(SALE=s1); WRK_SCRIPT="$PEER_COPY/wrk/$([[ "$scen" == order ]] && echo token || echo flow).lua"; WRK_URL="$PEER_BASE/"
    return
  fi
  WRK_URL="$BASE"
  case "$scen" in
    order|flow) limits high; WRK_ENV=(SALE=bench); WRK_SCRIPT="$HERE/wrk/$scen.lua" ;;
    noop)       limits high; WRK_ENV=(TARGET=healthz SALE=bench); WRK_SCRIPT="$HERE/wrk/fixed.lua" ;;
    post)       limits high; WRK_ENV=(TARGET=post SALE=bench); WRK_SCRIPT="$HERE/wrk/fixed.lua" ;;
    soldout)    limits high; WRK_ENV=(TARGET=order SALE=gone); WRK_SCRIPT="$HERE/wrk/fixed.lua" ;;
    refused)    limits low;  WRK_ENV=(TARGET=order SALE=bench); WRK_SCRIPT="$HERE/wrk/fixed.lua" ;;
  esac
  if [[ "$scen" == post || "$scen" == soldout || "$scen" == refused ]]; then
    # the fixed-request script counts no codes: check that this scenario is answered as it should
    # (twice: the first may still be admitted right after the limits changed)
    case "$scen" in post) want=404 ;; soldout) want=409 ;; *) want=429 ;; esac
    for _ in 1 2; do
      got="$(curl -s -o /dev/null -w '%{http_code}' -X POST "$BASE$([[ "$scen" == post ]] && echo /healthz || echo "/v1/sales/${WRK_ENV[1]#SALE=}/orders")" \
        -H "Authorization: Bearer $(head -1 "$JWT_FILE")" -H 'Content-Type: application/json' -d '{"quantity":1}')"
    done
    [[ "$got" == "$want" ]] || { echo "$scen: expected $want, got $got" >&2; exit 1; }
  fi
}

# measure WHO SCEN RUN FIRST: one measured wrk run, after a quiet machine; appends a row
measure() {
  local who="$1" scen="$2" run="$3" first="$4" gw rport rpid bg tf raw g0 g1 r0 r1 i0 i1 s0 s1 t0 t1 line
  if [[ "$who" == peer ]]; then gw="$PEER_NGINX_PID"; rpid="$PEER_REDIS_PID"; rport="$PEER_REDIS_PORT"
  else gw="$GW_PID"; rpid="$REDIS_PID"; rport="$RG_REDIS_PORT"; fi
  prepare "$who" "$scen"
  if [[ "$run" == 1 && "$WARMUP" != 0 && "$WARMUP" != 0s ]]; then
    env "${WRK_ENV[@]}" wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" -s "$WRK_SCRIPT" "$WRK_URL" >/dev/null 2>&1
    if [[ "$who" == peer ]]; then peer_reset; fi
  fi
  bg="$(quiet)"
  raw="$OUT/$who-$scen-r$run.txt"; tf="$(mktemp)"
  i0="$(redis_info_cpu "$rport")"; s0="$(redis_script_s "$rport")"
  g0="$(proc_ticks $(tree "$gw"))"; r0="$(proc_ticks "$rpid")"; t0="$(date +%s.%N)"
  /usr/bin/time -f "%U %S" -o "$tf" env "${WRK_ENV[@]}" wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" -s "$WRK_SCRIPT" "$WRK_URL" >"$raw" 2>&1
  t1="$(date +%s.%N)"; g1="$(proc_ticks $(tree "$gw"))"; r1="$(proc_ticks "$rpid")"
  i1="$(redis_info_cpu "$rport")"; s1="$(redis_script_s "$rport")"
  line="$(grep '^RESULT' "$raw" || true)"
  [[ -n "$line" ]] || { echo "no RESULT from wrk ($who $scen run $run):" >&2; cat "$raw" >&2; exit 1; }
  awk -v who="$who" -v s="$scen" -v c="$CONNS" -v r="$run" -v first="$first" -v wall="$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')" \
      -v bg="$bg" -v hz="$HZ" -v g="$((g1 - g0))" -v rd="$((r1 - r0))" -v i0="$i0" -v i1="$i1" -v sc="$(awk -v a="$s0" -v b="$s1" 'BEGIN{print b-a}')" -v gen="$(awk '{print $1 + $2}' "$tf")" '
    { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
    END {
      printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.3f\t%s\t%.3f\t%.3f\t%.3f\t%.3f\t%.6f\n", who, s, c, r, first,
        v["rps"], v["p50_ms"], v["p99_ms"], v["non2xx"], v["sockerr"], v["requests"], wall, bg, g / hz, rd / hz, i1 - i0, gen, sc
      n = v["requests"] > 0 ? v["requests"] : 1
      printf "  run %s %-7s %-8s rps=%-9s p99=%-7s non2xx=%d sockerr=%d  us/req: gateway %.1f, redis %.1f (INFO %.1f, scripts %.1f), wrk %.1f  (bg %s)\n",
        r, s, who, v["rps"], v["p99_ms"], v["non2xx"], v["sockerr"], 1e6 * g / hz / n, 1e6 * rd / hz / n, 1e6 * (i1 - i0) / n, 1e6 * sc / n, 1e6 * gen / n, bg > "/dev/stderr"
    }' <<<"$line" >>"$ROWS"
  rm -f "$tf"
}

# --- the sitting: for each run, each scenario, both sides ------------------------------------
for run in $(seq "$RUNS"); do
  for scen in $SCENARIOS; do
    sides=rushgate
    if [[ "$PEER_UP" == 1 && ( "$scen" == order || "$scen" == flow ) ]]; then
      if (( run % 2 )); then sides="rushgate peer"; else sides="peer rushgate"; fi
    fi
    first=1
    for who in $sides; do measure "$who" "$scen" "$run" "$first" 2>&1; first=0; done
  done
done
cleanup

# --- summary ------------------------------------------------------------------------------------
{
  echo
  echo "Medians over $RUNS interleaved runs; spread = (max-min)/median of req/s; errs = socket errors + non-2xx answers"
  echo "(but for post, soldout and refused, whose 404/409/429 are checked before each run), summed."
  echo "bg = busy cores on the machine in the second before the run. cores: CPU-seconds per second during the run."
  echo "us/req = CPU microseconds per completed request (median of the runs'): gateway (rushgate: node incl. cluster"
  echo "children; peer: nginx master + workers), redis from /proc (INFO cpu's used_cpu_sys+user in brackets), wrk."
  awk -F'\t' -v scens="$SCENARIOS" '
    function srt(a, n,   i, j, t) { for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t } }
    function med(k, col,   a, i, c) { c = n[k]; for (i = 1; i <= c; i++) a[i] = val(k, i, col); srt(a, c); return c % 2 ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2 }
    function mn(k, col,   i, m) { m = val(k, 1, col); for (i = 2; i <= n[k]; i++) if (val(k, i, col) < m) m = val(k, i, col); return m }
    function mx(k, col,   i, m) { m = val(k, 1, col); for (i = 2; i <= n[k]; i++) if (val(k, i, col) > m) m = val(k, i, col); return m }
    # col: a column of rows.tsv; "cg" "cr" "cw": cores; "ug" "ur" "ui" "uw": us per request
    function val(k, i, col,   q) {
      q = f[k, i, 11] > 0 ? f[k, i, 11] : 1
      if (col == "cg") return f[k, i, 14] / f[k, i, 12]; if (col == "cr") return f[k, i, 15] / f[k, i, 12]; if (col == "cw") return f[k, i, 17] / f[k, i, 12]
      if (col == "ug") return 1e6 * f[k, i, 14] / q; if (col == "ur") return 1e6 * f[k, i, 15] / q
      if (col == "ui") return 1e6 * f[k, i, 16] / q; if (col == "uw") return 1e6 * f[k, i, 17] / q
      if (col == "us") return 1e6 * f[k, i, 18] / q
      return f[k, i, col] + 0
    }
    { k = $1 "\t" $2; n[k]++; for (c = 1; c <= NF; c++) f[k, n[k], c] = $c; byrun[$1, $2, $4] = $6
      err[k] += $10 + (($2 == "post" || $2 == "soldout" || $2 == "refused") ? 0 : $9) }
    END {
      printf "%-8s %-8s %4s %9s %7s %7s %7s %6s %5s | %5s %5s %5s | %8s %14s %6s\n", "scen", "who", "runs", "req/s", "spread", "p50ms", "p99ms", "errs", "bg",
        "gw", "redis", "wrk", "gw", "redis (INFO)", "wrk"
      printf "%-69s | %-17s | %s\n", "", "cores", "CPU us per request"
      ns = split(scens, S, " ")
      for (s = 1; s <= ns; s++) for (w = 1; w <= 2; w++) {
        who = (w == 1 ? "rushgate" : "peer"); k = who "\t" S[s]; if (!(k in n)) continue
        r = med(k, 6); R[k] = r; UG[k] = med(k, "ug"); UR[k] = med(k, "ur"); UI[k] = med(k, "ui"); US[k] = med(k, "us")
        printf "%-8s %-8s %4d %9.0f %6.1f%% %7.2f %7.2f %6d %5.2f | %5.2f %5.2f %5.2f | %8.1f %6.1f (%5.1f) %6.1f\n", S[s], who, n[k], r,
          (r > 0 ? 100 * (mx(k, 6) - mn(k, 6)) / r : 0), med(k, 7), med(k, 8), err[k], med(k, 13),
          med(k, "cg"), med(k, "cr"), med(k, "cw"), UG[k], UR[k], UI[k], med(k, "uw")
      }
      print ""
      for (s = 1; s <= ns; s++) {
        a = "rushgate\t" S[s]; b = "peer\t" S[s]; if (!(a in R) || !(b in R) || R[b] == 0) continue
        per = ""; for (i = 1; i <= n[a]; i++) if (byrun["peer", S[s], i] > 0) per = per sprintf(" %.2f", byrun["rushgate", S[s], i] / byrun["peer", S[s], i])
        printf "ratio rushgate/peer, %s: throughput %.2fx (run by run:%s); gateway CPU per request %.1f vs %.1f us (%.2fx)\n",
          S[s], R[a] / R[b], per, UG[a], UG[b], (UG[b] > 0 ? UG[a] / UG[b] : 0)
      }
      # a completed checkout is one order and one payment: two requests of the flow
      a = "rushgate\tflow"; b = "peer\tflow"
      if ((a in R) && (b in R) && UR[b] > 0)
        printf "redis CPU per completed checkout (2 flow requests): rushgate %.1f us, peer %.1f us (%.2fx); INFO cpu: %.1f vs %.1f us (%.2fx); in scripts: %.1f vs %.1f us (%.2fx)\n",
          2 * UR[a], 2 * UR[b], UR[a] / UR[b], 2 * UI[a], 2 * UI[b], (UI[b] > 0 ? UI[a] / UI[b] : 0), 2 * US[a], 2 * US[b], (US[b] > 0 ? US[a] / US[b] : 0)
      # the refusals against the no-op route (GET /healthz), and against the same POST answered
      # with no route or buyer-path work (post): the first is the target, the second what the
      # refusing route adds
      z = "rushgate\tnoop"; q = "rushgate\tpost"
      if ((z in R) && R[z] > 0) for (s = 1; s <= ns; s++) if (S[s] == "post" || S[s] == "soldout" || S[s] == "refused") {
        a = "rushgate\t" S[s]; if (!(a in R)) continue
        printf "%s: %.0f req/s, %.2fx the no-op route'"'"'s (GET /healthz, %.0f req/s); gateway CPU %.1f us/request against its %.1f us (%.2fx)",
          (S[s] == "post" ? "cost of the POST itself, post" : "cost of refusing, " S[s]), R[a], R[a] / R[z], R[z], UG[a], UG[z], (UG[z] > 0 ? UG[a] / UG[z] : 0)
        if (S[s] != "post" && (q in R) && R[q] > 0)
          printf "; against the same POST answered 404 (post): %.2fx its req/s, %.2fx its CPU", R[a] / R[q], (UG[q] > 0 ? UG[a] / UG[q] : 0)
        printf "\n"
      }
    }' "$ROWS"
} | tee "$OUT/summary.txt"

# Where the gateway's CPU goes, by stage of a request: reads `perf script -F ip,sym,dso` of a
# `perf record -e cpu-clock -g` of `node --perf-basic-prof` (loadtest/README.md has the recipe)
# and charges each sample to one stage:
#   - "V8 garbage collection" when the innermost frame is the collector's;
#   - else the innermost JavaScript frame of a known module (the rules below, first match wins),
#     so the native code a stage calls (crypto, string copies, syscalls) is charged to it; node's
#     crypto, buffer and events modules are looked through, to the code that called them;
#   - else node's HTTP parser (llhttp, C++, before it calls into JS), "kernel, no JS on the
#     stack" (epoll, socket reads, scheduling) or "native, no JS on the stack" (libuv, V8's
#     runtime and microtask queue, node's C++).
#   awk -v hz=999 -v requests=N -f perf-stages.awk    (hz: perf's -F; requests: answered
#   while perf recorded; both optional, for the "us/req" column)
function stage(sym) {
  if (sym ~ /node_modules\/fast-jwt|node_modules\/hono\/dist\/utils\/jwt|dist\/http\/auth\.js/) return "JWT verification"
  if (sym ~ /node_modules\/zod|dist\/http\/body\.js/) return "body read + schema (zod)"
  if (sym ~ /dist\/limits\//) return "limits (windows, blocklist)"
  if (sym ~ /node_modules\/(ioredis|@ioredis|redis-parser|redis-errors|denque|cluster-key-slot)|dist\/redis\/|dist\/runtime\/node\/adapters\/(ioredis-port|redis-client)\.js/) return "Redis client (ioredis, scripts)"
  if (sym ~ /dist\/payments\/payment-token\.js|dist\/hmac\.js|dist\/runtime\/node\/adapters\/crypto\.js/) return "payment token (sign/verify)"
  if (sym ~ /node_modules\/prom-client|dist\/ops\/(metrics|sale-tally)\.js|dist\/runtime\/node\/adapters\/metrics\.js/) return "metrics + tally"
  if (sym ~ /node_modules\/(pino|sonic-boom|thread-stream)/) return "logging (pino)"
  if (sym ~ /dist\/(orders|sales|payments|wallets)\//) return "routes (orders, sales, payments)"
  if (sym ~ /node_modules\/(hono|@hono)\//) return "Hono + node-server"
  if (sym ~ /\/dist\//) return "other rushgate code"
  if (sym ~ /node:(internal\/crypto\/|buffer|events|internal\/util)/) return ""
  if (sym ~ /node:(_http|http|net|stream|internal\/(streams|http|net|stream_base))/) return "node http/net (JS)"
  if (sym ~ /node:internal\/deps\/undici/) return "Headers, Response (undici)"
  if (sym ~ /node:internal\/process\/task_queues|node:internal\/timers/) return "promise jobs, ticks, timers"
  if (sym ~ /^JS:/) return "other JS (node internals, deps)"
  return ""
}
function flush(   i, s, gc, kernel) {
  if (depth == 0) return
  total++
  gc = (frame[1] ~ /v8::internal::(Scavenger|MarkCompact|Heap::|GCTracer|ConcurrentMarking|MinorMarkCompact|Sweeper|ScavengerCollector)/)
  s = ""
  if (gc) s = "V8 garbage collection"
  for (i = 1; s == "" && i <= depth; i++) s = stage(frame[i])
  if (s == "") {
    kernel = 0
    for (i = 1; i <= depth; i++) {
      if (frame[i] ~ /llhttp|node::\(anonymous namespace\)::Parser::/) { s = "HTTP parser (llhttp, C++)"; break }
      if (dso[i] ~ /kernel/) kernel = 1
    }
    if (s == "") s = kernel ? "kernel, no JS on the stack" : "native, no JS on the stack"
  }
  n[s]++
  depth = 0
}
/^[ \t]*$/ { flush(); next }
/^[ \t]+[0-9a-f]+ / {
  line = $0
  sub(/^[ \t]+[0-9a-f]+ /, "", line)
  d = line; sub(/^.* \(/, "", d); sub(/\)$/, "", d)
  sub(/ \([^()]*\)$/, "", line)
  depth++; frame[depth] = line; dso[depth] = d
  next
}
END {
  flush()
  if (total == 0) { print "no samples (was perf script given -F ip,sym,dso?)"; exit 1 }
  printf "%-36s %8s %7s %9s\n", "stage", "samples", "share", (requests > 0 ? "us/req" : "")
  # by share, largest first
  m = 0; for (s in n) key[++m] = s
  for (i = 2; i <= m; i++) { t = key[i]; for (j = i - 1; j >= 1 && n[key[j]] < n[t]; j--) key[j + 1] = key[j]; key[j + 1] = t }
  for (i = 1; i <= m; i++) {
    s = key[i]
    if (requests > 0) printf "%-36s %8d %6.1f%% %9.1f\n", s, n[s], 100 * n[s] / total, 1e6 * n[s] / (hz > 0 ? hz : 999) / requests
    else printf "%-36s %8d %6.1f%%\n", s, n[s], 100 * n[s] / total
  }
  if (requests > 0) printf "%-36s %8d %6.1f%% %9.1f\n", "all", total, 100, 1e6 * total / (hz > 0 ? hz : 999) / requests
}

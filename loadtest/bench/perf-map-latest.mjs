// Rewrites a `node --perf-basic-prof` map (/tmp/perf-<pid>.map) so each address keeps only the
// newest name: node perf-map-latest.mjs /tmp/perf-<pid>.map
//
// The map is append-only. When V8 frees compiled code and reuses its memory, the old entry stays,
// and perf resolves an address to the entry with the highest start at or below it, which can be
// the freed one: HTTP parsing then shows up as, say, a PGlite function compiled at startup. An
// entry overlapped by a newer one is dropped here (its code no longer exists). Run it after the
// recording, while the process has compiled little since; the original is kept as <map>.orig.
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: node perf-map-latest.mjs /tmp/perf-<pid>.map\n');
  process.exit(2);
}
const lines = readFileSync(file, 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '');
const entries = lines.map((line, order) => {
  const [start = '0', size = '0'] = line.split(' ', 2);
  const s = BigInt(`0x${start}`);
  return { line, order, start: s, end: s + BigInt(`0x${size}`) };
});

/** the entries kept so far (newest first in the scan): disjoint intervals, sorted by start */
const kept = [];
/** how many kept intervals start before `address` */
const before = (address) => {
  let lo = 0;
  let hi = kept.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (kept[mid].start < address) lo = mid + 1;
    else hi = mid;
  }
  return lo;
};
for (let i = entries.length - 1; i >= 0; i--) {
  const e = entries[i];
  if (e.end === e.start) continue;
  // the last kept interval starting before e ends overlaps e if it ends after e starts
  const n = before(e.end);
  if (n > 0 && kept[n - 1].end > e.start) continue;
  kept.splice(before(e.start), 0, e);
}
kept.sort((a, b) => a.order - b.order);
copyFileSync(file, `${file}.orig`);
writeFileSync(file, `${kept.map((e) => e.line).join('\n')}\n`);
process.stderr.write(
  `${file}: kept ${kept.length} of ${entries.length} entries (${entries.length - kept.length} overlapped by newer code)\n`,
);

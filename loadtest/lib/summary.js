// handleSummary for the scripts: the JSON summary to a file, and a short text summary that shows
// every threshold with the figure it judged (plain JS: k6 and Node). k6's own text summary comes
// from a remote jslib module, which a run without internet access cannot load.

const AGGREGATE = /^\s*([a-z]+(?:\([\d.]+\))?)/;

function figure(value) {
  if (typeof value !== 'number') return String(value);
  return Number.isInteger(value) ? String(value) : value.toFixed(Math.abs(value) < 10 ? 3 : 1);
}

function checksOf(group, into) {
  for (const c of group.checks || []) into.push(c);
  for (const g of group.groups || []) checksOf(g, into);
  return into;
}

const SHOWN = ['http_reqs', 'iterations', 'dropped_iterations', 'vus_max'];

/** The text summary of a run: thresholds first (✓/✗ and the judged figure), then checks and counts. */
export function textSummary(script, data, jsonPath) {
  const names = Object.keys(data.metrics).sort();
  const judged = [];
  for (const name of names) {
    const metric = data.metrics[name];
    for (const source of Object.keys(metric.thresholds || {})) {
      const aggregate = (AGGREGATE.exec(source) || [])[1];
      const value = aggregate === undefined ? undefined : metric.values[aggregate];
      let shown = value === undefined ? 'no data' : figure(value);
      if (metric.type === 'rate')
        shown += ` (${metric.values.passes} of ${metric.values.passes + metric.values.fails})`;
      judged.push({ ok: metric.thresholds[source].ok, name, source, value: shown });
    }
  }
  const failed = judged.filter((t) => !t.ok).length;
  const seconds = (data.state.testRunDurationMs / 1000).toFixed(1);
  const lines = [
    '',
    `${script}: ${failed === 0 ? `all ${judged.length} thresholds passed` : `${failed} of ${judged.length} thresholds failed`}, ${seconds} s`,
  ];
  const width = Math.max(0, ...judged.map((t) => t.name.length + t.source.length + 1));
  for (const t of judged) {
    const label = `${t.name} ${t.source}`;
    lines.push(`  ${t.ok ? '✓' : '✗'} ${label}${' '.repeat(width - label.length)}  ${t.value}`);
  }
  const checks = checksOf(data.root_group, []);
  if (checks.length > 0) {
    lines.push('checks:');
    for (const c of checks)
      lines.push(`  ${c.fails === 0 ? '✓' : '✗'} ${c.name}: ${c.passes} passed, ${c.fails} failed`);
  }
  const counts = [];
  for (const name of names) {
    const values = data.metrics[name].values;
    if (SHOWN.indexOf(name) >= 0 || (name.indexOf('rushgate_') === 0 && name.indexOf('{') < 0)) {
      const value = values.count !== undefined ? values.count : values.rate !== undefined ? values.rate : values.value;
      if (value !== undefined) counts.push(`${name}=${figure(value)}`);
    }
  }
  lines.push(`counts: ${counts.join(', ')}`);
  const durations = names.filter((n) => n === 'http_req_duration' || n.indexOf('http_req_duration{name:') === 0);
  if (durations.length > 0) {
    const stats = data.options.summaryTrendStats;
    lines.push(`http_req_duration (ms; ${stats.join(', ')}):`);
    for (const name of durations) {
      const values = data.metrics[name].values;
      lines.push(
        `  ${name.slice('http_req_duration'.length) || 'all'} ${stats.map((s) => figure(values[s])).join(' / ')}`
      );
    }
  }
  if (jsonPath) lines.push(`summary JSON: ${jsonPath}`);
  return `${lines.join('\n')}\n\n`;
}

/** What a script's handleSummary returns: the text to stdout, the whole summary as JSON to a file. */
export function summaryOutputs(script, data, jsonPath) {
  const outputs = { stdout: textSummary(script, data, jsonPath) };
  if (jsonPath) outputs[jsonPath] = JSON.stringify(data, null, 2);
  return outputs;
}

/** summaryTrendStats for every script: p(99) is what the thresholds judge, so it must show. */
export const TREND_STATS = ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'];

// Turns the race's per-run results (runs.jsonl, one line per Worker and round, written by scripts/race.sh) into
// race.json and race.md, prints the table, and exits 1 if any run was invalid: a response that was not 200, a
// socket error, or an upstream that received fewer requests than wrk completed.
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values: o } = parseArgs({
  options: {
    ...Object.fromEntries(
      ['runs', 'json', 'md', 'machine', 'load-generator', 'connections', 'threads', 'duration', 'warmup', 'rounds',
        'tokens', 'sample-allowed'].map((k) => [k, { type: 'string' }]),
    ),
    'no-token': { type: 'boolean', default: false },
  },
});
const withToken = !o['no-token'];
const runs = readFileSync(o.runs, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round = (x, d) => Number(x.toFixed(d));
const socketErrors = (r) => Object.values(r.socket_errors).reduce((a, b) => a + b, 0);

const problems = [];
for (const r of runs) {
  const where = `${r.worker} round ${r.round}`;
  if (r.non_200 > 0) problems.push(`${where}: ${r.non_200} responses were not 200 (${JSON.stringify(r.statuses)})`);
  if (socketErrors(r) > 0) problems.push(`${where}: socket errors ${JSON.stringify(r.socket_errors)}`);
  if (r.upstream < r.requests) problems.push(`${where}: the upstream received ${r.upstream} of ${r.requests} requests`);
  if (withToken && r.worker !== 'pass-through' && r.upstream_with_subject < r.requests) {
    problems.push(`${where}: only ${r.upstream_with_subject} forwarded requests carried X-Auth-Subject`);
  }
}

const names = [...new Set(runs.map((r) => r.worker))];
const workers = names.map((name) => {
  const rs = runs.filter((r) => r.worker === name);
  return {
    name,
    rps: round(median(rs.map((r) => r.rps)), 1),
    p50_ms: round(median(rs.map((r) => r.p50_ms)), 3),
    p99_ms: round(median(rs.map((r) => r.p99_ms)), 3),
    non_2xx: rs.reduce((a, r) => a + r.non_200, 0),
    socket_errors: rs.reduce((a, r) => a + socketErrors(r), 0),
    requests: rs.reduce((a, r) => a + r.requests, 0),
    upstream_received: rs.reduce((a, r) => a + r.upstream, 0),
    rps_per_round: rs.map((r) => round(r.rps, 1)),
    // CPU (user + system) of the Worker's wrangler dev process group (node + workerd) per request, median over
    // rounds: far less disturbed by a busy machine than RPS.
    cpu_ms_per_request: round(median(rs.map((r) => r.cpu_ms_per_request ?? NaN)), 3),
  };
});
const by = Object.fromEntries(workers.map((w) => [w.name, w]));
const cpuRatio = (a, b) => (by[a] && by[b] ? round(by[a].cpu_ms_per_request / by[b].cpu_ms_per_request, 3) : null);
const ratio = (a, b) => (by[a] && by[b] ? round(by[a].rps / by[b].rps, 3) : null);
const report = {
  date: new Date().toISOString(),
  machine: o.machine,
  load_generator: o['load-generator'],
  concurrency: Number(o.connections),
  threads: Number(o.threads),
  duration_s: Number(o.duration),
  warmup_s: Number(o.warmup),
  rounds: Number(o.rounds),
  distinct_tokens: withToken ? Number(o.tokens) : 0,
  sample_allowed: Number(o['sample-allowed']),
  valid: problems.length === 0,
  problems,
  workers,
  ratios: {
    edge_access_vs_pass_through: ratio('edge-access', 'pass-through'),
    edge_access_vs_jose: ratio('edge-access', 'jose'),
  },
  // The same comparisons by CPU per request (lower is better, so the ratio is other / edge-access: above 1 means
  // edge-access costs less CPU per request).
  cpu_ratios: {
    pass_through_vs_edge_access: cpuRatio('pass-through', 'edge-access'),
    jose_vs_edge_access: cpuRatio('jose', 'edge-access'),
  },
  targets: { edge_access_vs_pass_through: 0.95, edge_access_vs_jose: 1.2 },
  runs,
};
writeFileSync(o.json, `${JSON.stringify(report, null, 2)}\n`);

const rows = workers.map(
  (w) => `| ${w.name} | ${w.rps.toFixed(0)} | ${w.p50_ms.toFixed(2)} | ${w.p99_ms.toFixed(2)} | ${w.non_2xx} | ${w.requests} | ${w.rps_per_round.map((x) => x.toFixed(0)).join(' / ')} | ${w.cpu_ms_per_request.toFixed(2)} |`,
);
const r = report.ratios;
const fmt = (x, t) => (x === null ? 'n/a' : `${x.toFixed(3)} (target >= ${t})`);
const md = [
  `# Race: edge-access vs pass-through vs jose`,
  '',
  `${report.date}; ${report.machine}; ${report.load_generator}, ${report.concurrency} connections, ` +
    `${report.threads} threads; ${report.rounds} interleaved rounds of ${report.warmup_s} s warm-up + ` +
    `${report.duration_s} s; ${withToken ? `${report.distinct_tokens} distinct ES256 tokens` : 'no tokens (variant)'}; sample_allowed ${report.sample_allowed}. ` +
    'Medians across rounds; non-2xx and requests are totals.',
  '',
  '| worker | RPS | p50 ms | p99 ms | non-2xx | requests | RPS per round | CPU ms/request |',
  '|---|---:|---:|---:|---:|---:|---|---:|',
  ...rows,
  '',
  `edge-access / pass-through: ${fmt(r.edge_access_vs_pass_through, 0.95)}  `,
  `edge-access / jose: ${fmt(r.edge_access_vs_jose, 1.2)}  `,
  `CPU per request (wrangler dev + workerd of each Worker): pass-through / edge-access ${report.cpu_ratios.pass_through_vs_edge_access}, ` +
    `jose / edge-access ${report.cpu_ratios.jose_vs_edge_access}`,
  '',
  report.valid ? 'All runs valid: every response 200, no socket errors, the upstream received every request.'
    : `INVALID:\n${problems.map((p) => `- ${p}`).join('\n')}`,
  '',
].join('\n');
writeFileSync(o.md, md);
process.stdout.write(md);
process.exit(report.valid ? 0 : 1);

// Writes BENCHMARKS.md from the JSON files of a `make bench` run (scripts/bench-all.sh). Every figure and every
// met / not met comes from those files: nothing here is typed by hand but the targets themselves.
//
//   node scripts/bench-report.mjs target/bench BENCHMARKS.md
//
// Reads: meta.json (date, machine, commands), engine.json (scripts/bench.sh), startup.json (scripts/startup.sh),
// size.json (the shipped Worker), race.json (scripts/race.sh; "not run" without it). A missing file is reported as
// not run, never as a pass.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [dir = 'target/bench', outFile = 'BENCHMARKS.md'] = process.argv.slice(2);
const load = (name) => {
  const file = join(dir, name);
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : null;
};
const meta = load('meta.json');
const engine = load('engine.json');
const startup = load('startup.json');
const size = load('size.json');
const race = load('race.json');
const inproc = load('inproc.json');
const wasm = (name) => engine?.[name]?.wasm_ns ?? null;

const ns = (v) => {
  if (v === null || v === undefined) return '-';
  if (v >= 1e6) return `${(v / 1e6).toFixed(2)} ms`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(2)} µs`;
  return `${v.toFixed(1)} ns`;
};
const ms = (v) => (v === null || v === undefined ? '-' : `${v.toFixed(2)} ms`);
const kb = (bytes) => `${(bytes / 1000).toFixed(1)} KB`;
const ratio = (v) => (v === null || v === undefined ? '-' : v.toFixed(2));
const row = (cells) => `| ${cells.join(' | ')} |`;

const md = [];
md.push('# Benchmarks', '');
md.push(
  'Written by `make bench` (`scripts/bench-all.sh`, report by `scripts/bench-report.mjs`) from the JSON files it',
  'leaves in `target/bench/`. Regenerate rather than edit. All times are medians.',
  '',
);
if (meta) {
  const m = meta.machine;
  md.push(
    `- Date: ${meta.date}${meta.quick ? ' (**quick mode**: short budgets, few startup samples; a smoke run, not a record)' : ''}`,
    `- Machine: ${m.nproc} CPUs (${m.cpu}), ${m.memory_gib} GiB memory, ${m.os}` +
      (m.load_before ? `; load average ${m.load_before} at the start, ${m.load_after} at the end` : '') +
      ' (a shared machine: a load above the CPU count stretches every figure, unevenly)',
    `- Toolchain: ${m.rustc}; Node ${m.node} (Wasm runs under Node's V8; signatures in Wasm use Node's WebCrypto)`,
    `- Commands: ${meta.commands.map((c) => `\`${c}\``).join(', ')}`,
    `- Duration: ${Math.round(meta.duration_s / 60)} min (${Object.entries(meta.steps_s)
      .map(([k, v]) => `${k} ${Math.round(v)} s`)
      .join(', ')}; builds included)`,
    '',
  );
} else {
  md.push('No `meta.json`: date, machine and commands unknown.', '');
}

// ---- engine ----
const groups = [
  ['parse', 'Parse', 'Policy JSON deserialised (no validation), and one client IP header parsed.'],
  ['compile', 'Compile', '`Policy::compile` of the reference policy: what `build.rs` does once per build.'],
  [
    'execute',
    'Execute',
    '`Policy::evaluate` on the reference policy, no token: denied by the 2nd rule (`early_deny`), allowed by the ' +
      'last (`late_allow`), or by the default (`default`); `_bundled` loads the policy as the Worker does.',
  ],
  [
    'ip',
    'IP list lookup',
    'One `IpSet::contains` per iteration, half hits and half misses, over 4096 random addresses; `_bundled` is the ' +
      'set loaded from its precompiled blobs as the Worker does.',
  ],
  ['origin', 'Origin match', 'One `Origin` header parsed and matched against a 50-entry list (35 exact, 15 wildcards).'],
  ['startup', 'Policy load', '`Policy::from_compiled`: a fresh isolate loading the compiled policy `build.rs` bundles (the lists as blobs).'],
  [
    'token',
    'Token',
    'The ES256 token (jose-minted) parsed with its algorithm pinned; its claims checked; a verified-token cache hit ' +
      'through the whole token driver (no signature check).',
  ],
  [
    'verify',
    'Signature verification',
    'One signature check per algorithm on the jose fixtures: **native RustCrypto, Wasm WebCrypto** (each an awaited ' +
      '`crypto.subtle.verify`, keys imported once), so the ratio compares two implementations.',
  ],
  [
    'decision',
    'Whole decision with an ES256 token',
    'Reference policy (100k CIDRs, 50 origins, 20 rules), a request with the ES256 token: token driver, then ' +
      '`Policy::evaluate`, allowed. `es256_verify` verifies the token (empty cache: **native RustCrypto, Wasm ' +
      'WebCrypto**); `es256_cache_hit` finds it verified.',
  ],
];
md.push('## Engine: native and Wasm', '');
if (engine) {
  md.push(
    'Native: criterion (`cargo bench --bench engine`). Wasm: the same workloads (`benches/workload/`) under Node',
    "with wasm-bindgen-test's criterion (`cargo bench --target wasm32-unknown-unknown --bench engine_wasm`), release",
    'profile as shipped (opt-level "s"). Ratio: Wasm / native.',
    '',
  );
  for (const [group, title, about] of groups) {
    const names = Object.keys(engine).filter((n) => n.split('/')[0] === group);
    if (names.length === 0) continue;
    md.push(`### ${title}`, '', about, '', '| benchmark | native | Wasm | Wasm/native |', '|---|--:|--:|--:|');
    for (const n of names) {
      const r = engine[n];
      md.push(row([`\`${n}\``, ns(r.native_ns), ns(r.wasm_ns), ratio(r.ratio)]));
    }
    md.push('');
  }
} else {
  md.push('Not run (no `engine.json`).', '');
}

// ---- startup ----
md.push('## Startup: instantiation to first decision (Wasm, Node)', '');
if (startup) {
  md.push(
    `Medians of ${startup.samples} fresh Node processes per policy (${startup.node}). The module is the crate built with`,
    'the policy bundled and the startup-only `bench-startup` export (`scripts/startup.sh`; the shipped Worker module',
    "needs Wasm exception handling that Node 20 lacks), through `wasm-bindgen --target web` and `wasm-opt -Oz`. Compile:",
    '`new WebAssembly.Module(bytes)`. Instantiate: `new WebAssembly.Instance` with the glue\'s imports and the start',
    'function. First decision: the first request decided, the bundled policy loaded on first use. **Ready = instantiate',
    '+ first decision**, i.e. from instantiation to the first decision (compile excluded: Workers compile a module',
    'once, before any isolate needs it).',
    '',
    'Second decision: the same request again in the same instance, for contrast (what the first one paid once:',
    "V8 compiles Wasm functions lazily, on first call, and the policy loads on first use).",
    '',
    '| policy | module | gzipped | compile | instantiate | first decision | ready (min-max) | second decision | request |',
    '|---|--:|--:|--:|--:|--:|--:|--:|---|',
  );
  const labels = { reference: 'reference (100k CIDRs, 50 origins, 20 rules, ES256 issuer)', 'list-1m': '1M IPv4 prefixes' };
  for (const [name, p] of Object.entries(startup.policies)) {
    md.push(
      row([
        labels[name] ?? name,
        kb(p.wasm_bytes),
        kb(p.wasm_gzip_bytes),
        ms(p.compile_ms),
        ms(p.instantiate_ms),
        ms(p.first_decision_ms),
        `${ms(p.ready_ms)} (${ms(p.ready_ms_min)}-${ms(p.ready_ms_max)})`,
        ms(p.second_decision_ms),
        `\`${p.request}\``,
      ]),
    );
  }
  md.push('');
  const diagnosed = Object.entries(startup.policies).filter(([, p]) => p.eager);
  if (diagnosed.length) {
    md.push(
      'Where the time goes (diagnostics from the same run). Instantiation copies the data section, mostly the IP',
      "lists' ranges, into linear memory. The first decision pays for V8 compiling each Wasm function on its first",
      'call: the same samples in Node with `--no-wasm-lazy-compilation`, where `new WebAssembly.Module` compiles',
      'every function up front, show how much. That flag is a diagnostic, not how Workers run.',
      '',
      '| policy | data section | eager: compile | eager: instantiate | eager: first decision | eager: ready |',
      '|---|--:|--:|--:|--:|--:|',
    );
    for (const [name, p] of diagnosed) {
      md.push(
        row([
          labels[name] ?? name,
          kb(p.data_bytes),
          ms(p.eager.compile_ms),
          ms(p.eager.instantiate_ms),
          ms(p.eager.first_decision_ms),
          `${ms(p.eager.ready_ms)} (${ms(p.eager.ready_ms_min)}-${ms(p.eager.ready_ms_max)})`,
        ]),
      );
    }
    md.push('');
  }
} else {
  md.push('Not run (no `startup.json`).', '');
}

// ---- size ----
md.push('## Worker size', '');
if (size) {
  md.push(
    `The shipped Worker (\`scripts/build.sh\`, bundled policy \`${size.policy}\`): \`index_bg.wasm\` ${size.wasm_bytes} bytes,`,
    `${size.wasm_gzip_bytes} bytes gzipped (\`gzip -9\`).`,
    '',
  );
} else {
  md.push('Not run (no `size.json`).', '');
}

// ---- race ----
md.push('## Race: the Workers under load', '');
if (race) {
  md.push(
    `${race.load_generator}, ${race.concurrency} connections, ${race.duration_s} s per round, ${race.rounds} rounds` +
      ` (${race.date}, ${race.machine}). See \`scripts/race.sh\`.`,
    '',
    '| worker | requests/s | p50 | p99 | non-2xx | requests |',
    '|---|--:|--:|--:|--:|--:|',
  );
  for (const w of race.workers) {
    md.push(row([w.name, w.rps.toFixed(0), ms(w.p50_ms), ms(w.p99_ms), w.non_2xx, w.requests]));
  }
  md.push(
    '',
    `Ratios (requests/s): edge-access / pass-through ${ratio(race.ratios.edge_access_vs_pass_through)}, ` +
      `edge-access / jose ${ratio(race.ratios.edge_access_vs_jose)}.`,
    '',
  );
  const pass = race.workers.find((w) => w.name === 'pass-through');
  const jose = race.workers.find((w) => w.name === 'jose');
  if (pass && jose && jose.rps > 0) {
    const spread = (w) => (w.rps_per_round?.length ? `${Math.min(...w.rps_per_round)}-${Math.max(...w.rps_per_round)}` : '-');
    const cpu = (w) => (w.cpu_ms_per_request === undefined ? '-' : `${w.cpu_ms_per_request.toFixed(2)} ms`);
    const edge = race.workers.find((w) => w.name === 'edge-access');
    md.push(
      'The ceiling: edge-access forwards like the pass-through Worker and does more, so beyond noise it cannot',
      `outrun it; against jose it can reach at most pass-through / jose = ${ratio(pass.rps / jose.rps)} in this run.`,
      `CPU per request, all processes of each Worker's \`wrangler dev\`: pass-through ${cpu(pass)}, edge-access`,
      `${edge ? cpu(edge) : '-'}, jose ${cpu(jose)}; requests/s per round: ${spread(pass)}, ${edge ? spread(edge) : '-'},`,
      `${spread(jose)}. Each request's cost is mostly the dev runtime's (wrangler's proxy Worker, the forward, the`,
      'upstream), the same for all three; the filters\' own work is in the micro benchmarks above.',
      '',
    );
  }
  if (inproc) {
    const us = (v) => (v === undefined || v === null ? '-' : `${v.toFixed(1)} µs`);
    md.push(
      'Without the dev runtime (`bench/inproc.mjs`, same run): the pass-through and jose Workers\' `fetch` handlers',
      `called in-process in Node (${inproc.node}) over the race's requests, the upstream stubbed (answers 200 at once):`,
      `pass-through ${us(inproc.workers['pass-through']?.us_per_request)}, jose ${us(inproc.workers.jose?.us_per_request)} per`,
      `request, so jose's own work is about **${us(inproc.jose_checks_us)}** (an ES256 verification with WebCrypto on`,
      'every request, and its checks). edge-access\'s whole decision in Wasm on the same engine: with the token',
      `verified before and cached ${ns(wasm('decision/es256_cache_hit'))}, with an ES256 verification`,
      `${ns(wasm('decision/es256_verify'))} (micro benchmarks above; the Worker's JS glue comes on top of these).`,
      '',
    );
  }
} else {
  md.push('Not run (no `target/bench/race.json`; `scripts/race.sh` writes it).', '');
}

// ---- targets ----
const slowest = (names) => {
  const found = names.map((n) => [n, wasm(n)]).filter(([, v]) => v !== null);
  return found.length ? found.reduce((a, b) => (b[1] > a[1] ? b : a)) : null;
};
const targets = [];
const target = (what, goal, value, shown, met, source) => targets.push({ what, goal, value, shown, met, source });
{
  const v = wasm('ip/v4_1m_bundled');
  target('IPv4 lookup, 1M prefixes, Wasm', '< 100 ns', v, ns(v), v === null ? null : v < 100, '`ip/v4_1m_bundled`');
}
{
  const s = slowest(['execute/early_deny_bundled', 'execute/late_allow_bundled', 'execute/default_bundled']);
  target(
    'Whole decision without signature checks, Wasm',
    '< 2 µs',
    s?.[1] ?? null,
    ns(s?.[1]),
    s ? s[1] < 2000 : null,
    s ? `slowest of \`execute/*_bundled\`: \`${s[0]}\`` : '`execute/*_bundled`',
  );
}
{
  const v = wasm('decision/es256_cache_hit');
  target(
    'Verified-token cache hit, Wasm (whole decision)',
    '< 5 µs',
    v,
    ns(v),
    v === null ? null : v < 5000,
    '`decision/es256_cache_hit` (token driver alone: `token/cache_hit_es256` ' + ns(wasm('token/cache_hit_es256')) + ')',
  );
}
{
  const v = startup?.policies?.['list-1m']?.ready_ms ?? null;
  target('Ready to serve a 1M-prefix policy after instantiation', '≤ 5 ms', v, ms(v), v === null ? null : v <= 5, 'startup `list-1m`, ready');
}
{
  const v = size?.wasm_gzip_bytes ?? null;
  target(
    'Worker Wasm, gzipped',
    '< 160 KB',
    v,
    v === null ? '-' : `${kb(v)} (${v} B)`,
    v === null ? null : v < 150_000,
    `shipped Worker, \`${size?.policy ?? 'policy.json'}\` bundled`,
  );
}
{
  const v = race?.ratios?.edge_access_vs_pass_through ?? null;
  target('Race: edge-access vs pass-through (requests/s)', '≥ 0.95', v, ratio(v), v === null ? null : v >= 0.95, 'race.json');
}
{
  const v = race?.ratios?.edge_access_vs_jose ?? null;
  target('Race: edge-access vs jose (requests/s)', '≥ 1.2', v, ratio(v), v === null ? null : v >= 1.2, 'race.json');
}
md.push('## Targets', '', 'Computed from the files above.', '', '| target | goal | measured | | from |', '|---|---|--:|---|---|');
for (const t of targets) {
  md.push(row([t.what, t.goal, t.shown, t.met === null ? 'not run' : t.met ? 'met' : '**not met**', t.source]));
}
md.push('');

writeFileSync(outFile, md.join('\n'));
const summary = targets.map((t) => `${t.what}: ${t.shown} (${t.met === null ? 'not run' : t.met ? 'met' : 'not met'})`);
console.log(`written: ${outFile}\n${summary.join('\n')}`);

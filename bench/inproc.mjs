// The race Workers' own work, without `wrangler dev`: the pass-through and jose Workers' `fetch` handlers called
// in-process in Node, over the race's own requests, with the upstream replaced by a stub that answers 200 at once
// (a mock, on purpose: it is what takes the dev runtime's per-request cost out, so what is left is each Worker's
// own work). jose runs on WebCrypto, as in workerd (esbuild bundles its `worker`/`browser` build). Console output
// is dropped for both. jose's checks cost about jose minus pass-through; edge-access's counterpart is the Wasm micro
// benchmarks' whole decision (`decision/es256_cache_hit`, `decision/es256_verify`).
//
//   node bench/inproc.mjs [race-dir (target/bench/race)] [out.json (target/bench/inproc.json)]
//
// Needs the race's generated files (scripts/race.sh, or `node bench/gen.mjs --out DIR` plus a copy of
// bench/jose/worker.mjs next to DIR/jose/data.json).
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const [raceDir = 'target/bench/race', outFile = 'target/bench/inproc.json'] = process.argv.slice(2);
const WARMUP = Number(process.env.INPROC_WARMUP ?? 2000);
const BATCH = Number(process.env.INPROC_BATCH ?? 2000);
const BATCHES = Number(process.env.INPROC_BATCHES ?? 7);

// The requests exactly as race.lua sends them (requests.lua is a Lua table of JSON-quoted strings).
const requests = readFileSync(join(raceDir, 'requests.lua'), 'utf8')
  .split('\n')
  .filter((line) => line.trim().startsWith('{ path ='))
  .map((line) => {
    const field = (name) => {
      const m = line.match(new RegExp(`${name} = ("(?:[^"\\\\]|\\\\.)*")`));
      return m ? JSON.parse(m[1]) : undefined;
    };
    return { path: field('path'), origin: field('origin'), ip: field('ip'), token: field('token') };
  });
if (requests.length === 0) throw new Error(`no requests in ${join(raceDir, 'requests.lua')}`);

async function bundle(entry, name) {
  const outfile = resolve(raceDir, 'inproc', `${name}.mjs`);
  mkdirSync(dirname(outfile), { recursive: true });
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    conditions: ['worker', 'browser'],
    mainFields: ['module', 'main'],
    loader: { '.json': 'json' },
    logLevel: 'error',
  });
  return (await import(pathToFileURL(outfile).href)).default;
}

const workers = {
  'pass-through': await bundle(join(here, 'passthrough', 'worker.mjs'), 'pass-through'),
  jose: await bundle(resolve(raceDir, 'jose', 'worker.mjs'), 'jose'),
};

let forwarded = 0;
globalThis.fetch = async () => {
  forwarded += 1;
  return new Response('ok');
};
console.log = () => {};
const print = (s) => process.stdout.write(`${s}\n`);

const env = { ORIGIN_URL: 'http://127.0.0.1:9' };
const ctx = { waitUntil() {}, passThroughOnException() {} };
function request(r) {
  const headers = new Headers({ Origin: r.origin, 'CF-Connecting-IP': r.ip });
  if (r.token) headers.set('Authorization', `Bearer ${r.token}`);
  return new Request(`https://api.example.com${r.path}`, { headers });
}

async function run(worker, n, offset) {
  for (let i = 0; i < n; i++) {
    const resp = await worker.fetch(request(requests[(offset + i) % requests.length]), env, ctx);
    if (resp.status !== 200) throw new Error(`answered ${resp.status}: ${await resp.text()}`);
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const result = { node: process.version, requests: requests.length, batch: BATCH, batches: BATCHES, workers: {} };
for (const [name, worker] of Object.entries(workers)) {
  forwarded = 0;
  await run(worker, WARMUP, 0);
  const us = [];
  for (let b = 0; b < BATCHES; b++) {
    const t0 = performance.now();
    await run(worker, BATCH, b * BATCH);
    us.push(((performance.now() - t0) * 1000) / BATCH);
  }
  if (forwarded !== WARMUP + BATCH * BATCHES) throw new Error(`${name}: forwarded ${forwarded} requests`);
  result.workers[name] = { us_per_request: Number(median(us).toFixed(2)), us_min: Number(Math.min(...us).toFixed(2)) };
  print(`inproc ${name}: ${result.workers[name].us_per_request} µs per request (median of ${BATCHES} x ${BATCH})`);
}
result.jose_checks_us = Number((result.workers.jose.us_per_request - result.workers['pass-through'].us_per_request).toFixed(2));
print(`inproc: jose's own work is about ${result.jose_checks_us} µs per request over pass-through`);
writeFileSync(outFile, `${JSON.stringify(result, null, 2)}\n`);
print(`written: ${outFile}`);

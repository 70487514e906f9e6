// Startup of a fresh Wasm instance, one sample per process (scripts/startup.sh runs it).
//
//   node scripts/startup.mjs sample <pkg-dir> <requests.json> <name>   # one sample: prints one JSON line
//   node scripts/startup.mjs run <out.json> <samples> <requests.json> <name>=<pkg-dir> ...
//
// A sample, in a fresh Node process, with the module's bytes already read and the wasm-bindgen glue imported:
//   compile_ms        new WebAssembly.Module(bytes)
//   instantiate_ms    initSync({ module }): new WebAssembly.Instance(module, glue imports) and the start function
//   first_decision_ms the first bench_first_decision(request) call, awaited: the bundled policy loaded on first
//                     use, headers read, tokens (none) checked, the engine's decision, the response plan
//   ready_ms          instantiate_ms + first_decision_ms: from instantiation to the first decision
//   second_decision_ms the same request again (steady state, for contrast: what the first one paid once)
// Each answer is checked against the native engine's (requests.json `expect`); a wrong answer fails the run.
//
// Where the time goes, measured alongside (diagnostics, not how Workers run): the same samples again in Node with
// `--no-wasm-lazy-compilation` (every function compiled in `new WebAssembly.Module`, none on first call), and the
// size of the module's data section (what instantiation copies into linear memory: the IP lists' ranges).
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [mode, ...args] = process.argv.slice(2);

async function sample(pkgDir, requestsFile, name) {
  const request = JSON.parse(readFileSync(requestsFile, 'utf8'))[name];
  const bytes = readFileSync(join(pkgDir, 'edge_access_bg.wasm'));
  const glue = await import(pathToFileURL(resolve(pkgDir, 'edge_access.js')).href);
  const t0 = performance.now();
  const module = new WebAssembly.Module(bytes);
  const t1 = performance.now();
  glue.initSync({ module });
  const t2 = performance.now();
  const answer = await glue.bench_first_decision(
    request.method,
    request.url,
    request.headers,
    request.country ?? undefined,
  );
  const t3 = performance.now();
  const again = await glue.bench_first_decision(
    request.method,
    request.url,
    request.headers,
    request.country ?? undefined,
  );
  const t4 = performance.now();
  if (again !== answer) throw new Error(`second decision: got \`${again}\`, the first \`${answer}\``);
  if (answer !== request.expect) {
    throw new Error(`first decision: got \`${answer}\`, the native engine says \`${request.expect}\``);
  }
  console.log(
    JSON.stringify({ compile_ms: t1 - t0, instantiate_ms: t2 - t1, first_decision_ms: t3 - t2, ready_ms: t3 - t1,
      second_decision_ms: t4 - t3 }),
  );
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round = (x) => Number(x.toFixed(3));

const KEYS = ['compile_ms', 'instantiate_ms', 'first_decision_ms', 'ready_ms', 'second_decision_ms'];

/// `count` samples, each in a fresh Node process started with `nodeFlags`; medians (and min, max) per key.
function samplesOf(count, nodeFlags, pkgDir, requestsFile, name) {
  const samples = [];
  for (let i = 0; i < count; i++) {
    const line = execFileSync(process.execPath, [...nodeFlags, process.argv[1], 'sample', pkgDir, requestsFile, name], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    samples.push(JSON.parse(line.trim().split('\n').pop()));
  }
  const entry = {};
  for (const key of KEYS) {
    const xs = samples.map((s) => s[key]);
    entry[key] = round(median(xs));
    entry[`${key}_min`] = round(Math.min(...xs));
    entry[`${key}_max`] = round(Math.max(...xs));
  }
  return entry;
}

/// Bytes in the module's data section (id 11): the segments instantiation copies into linear memory.
function dataSectionBytes(wasm) {
  const leb = (at) => {
    let value = 0;
    let shift = 0;
    for (;;) {
      const b = wasm[at++];
      value += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (b < 0x80) return [value, at];
    }
  };
  let at = 8; // magic and version
  while (at < wasm.length) {
    const id = wasm[at];
    const [size, body] = leb(at + 1);
    if (id === 11) return size;
    at = body + size;
  }
  return 0;
}

function run(out, count, requestsFile, specs) {
  const result = { samples: count, node: process.version, policies: {} };
  for (const spec of specs) {
    const [name, pkgDir] = spec.split('=');
    const wasm = readFileSync(join(pkgDir, 'edge_access_bg.wasm'));
    const entry = {
      request: JSON.parse(readFileSync(requestsFile, 'utf8'))[name].expect,
      ...samplesOf(count, [], pkgDir, requestsFile, name),
      eager: samplesOf(count, ['--no-wasm-lazy-compilation'], pkgDir, requestsFile, name),
      data_bytes: dataSectionBytes(wasm),
    };
    entry.wasm_bytes = wasm.length;
    entry.wasm_gzip_bytes = Number(
      execFileSync('bash', ['-c', `gzip -9 -c '${join(pkgDir, 'edge_access_bg.wasm')}' | wc -c`], {
        encoding: 'utf8',
      }).trim(),
    );
    result.policies[name] = entry;
    console.log(
      `startup ${name}: compile ${entry.compile_ms} ms, instantiate ${entry.instantiate_ms} ms, ` +
        `first decision ${entry.first_decision_ms} ms, ready ${entry.ready_ms} ms ` +
        `(medians of ${count} processes; ${entry.request}); module ${entry.wasm_bytes} B, ${entry.wasm_gzip_bytes} B gzipped`,
    );
    console.log(
      `startup ${name}, diagnostics: data section ${entry.data_bytes} B; with --no-wasm-lazy-compilation: ` +
        `compile ${entry.eager.compile_ms} ms, instantiate ${entry.eager.instantiate_ms} ms, ` +
        `first decision ${entry.eager.first_decision_ms} ms, ready ${entry.eager.ready_ms} ms`,
    );
  }
  writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
}

if (mode === 'sample') {
  await sample(args[0], args[1], args[2]);
} else if (mode === 'run') {
  run(args[0], Number(args[1]), args[2], args.slice(3));
} else {
  console.error('usage: startup.mjs sample <pkg-dir> <requests.json> <name> | run <out.json> <n> <requests.json> <name>=<dir> ...');
  process.exit(2);
}

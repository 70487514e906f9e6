// Where a Worker under `wrangler dev` spends its CPU: takes a V8 CPU profile of the Worker through wrangler's
// inspector port while the caller drives load, then prints the functions with the most self time.
//
// Usage: node bench/profile.mjs INSPECTOR_PORT SECONDS [TOP]
// Start it, then run wrk against the Worker for about SECONDS. For Rust function names in the profile, profile a
// Wasm build that keeps its name section (scripts/build.sh strips it; `worker-build --release` alone keeps it).
import WebSocket from 'ws';

const [port, seconds, top = '40'] = process.argv.slice(2);
const targets = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
const target = targets.find((t) => t.webSocketDebuggerUrl) ?? targets[0];
const ws = new WebSocket(target.webSocketDebuggerUrl);
await new Promise((ok, fail) => {
  ws.once('open', ok);
  ws.once('error', fail);
});
let nextId = 1;
const pending = new Map();
ws.on('message', (m) => {
  const msg = JSON.parse(m);
  if (msg.id && pending.has(msg.id)) {
    pending.get(msg.id)(msg);
    pending.delete(msg.id);
  }
});
const send = (method, params = {}) =>
  new Promise((ok) => {
    const id = nextId++;
    pending.set(id, ok);
    ws.send(JSON.stringify({ id, method, params }));
  });

await send('Profiler.enable');
await send('Profiler.setSamplingInterval', { interval: 100 });
await send('Profiler.start');
await new Promise((r) => setTimeout(r, Number(seconds) * 1000));
const { result } = await send('Profiler.stop');
ws.close();

const { nodes, samples, timeDeltas } = result.profile;
const byId = new Map(nodes.map((n) => [n.id, n]));
const self = new Map();
let total = 0;
samples.forEach((id, i) => {
  const dt = timeDeltas[i] ?? 0;
  total += dt;
  const n = byId.get(id);
  const f = n.callFrame;
  const name = `${f.functionName || '(anonymous)'} ${f.url ? f.url.split('/').pop() : ''}`.trim();
  self.set(name, (self.get(name) ?? 0) + dt);
});
const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, Number(top));
console.log(`profile: ${(total / 1e6).toFixed(2)} s sampled`);
for (const [name, us] of rows) {
  console.log(`${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1e3).toFixed(0).padStart(7)} ms  ${name}`);
}

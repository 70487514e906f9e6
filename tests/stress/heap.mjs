// Asks the Worker's V8 isolate, through wrangler dev's inspector port, for a full garbage collection and then for
// its heap usage; prints `{"used","total","backing"}` in bytes
// (`backing`: ArrayBuffer backing stores, the Wasm memory among them). Usage: node heap.mjs <inspector-port>. Uses the `ws`
// package wrangler already installs; gives up after 20 s.
import WebSocket from 'ws';

const port = process.argv[2];
setTimeout(() => { console.error('heap: no answer within 20 s'); process.exit(2); }, 20000).unref();
const targets = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
const url = targets[0]?.webSocketDebuggerUrl;
if (!url) { console.error(`heap: no inspector target: ${JSON.stringify(targets)}`); process.exit(2); }
const ws = new WebSocket(url);
let id = 0;
const pending = new Map();
ws.on('message', (data) => {
  const msg = JSON.parse(data);
  if (msg.id && pending.has(msg.id)) { pending.get(msg.id)(msg); pending.delete(msg.id); }
});
const call = (method, params = {}) => new Promise((resolve) => {
  id += 1; pending.set(id, resolve); ws.send(JSON.stringify({ id, method, params }));
});
ws.on('open', async () => {
  if (process.env.HEAP_DEBUG) ws.on('message', (d) => console.error(String(d).slice(0, 300)));
  await call('Runtime.enable');
  await call('HeapProfiler.enable');
  await call('HeapProfiler.collectGarbage');
  const usage = await call('Runtime.getHeapUsage');
  console.log(JSON.stringify({
    used: usage.result?.usedSize, total: usage.result?.totalSize, backing: usage.result?.backingStorageSize, error: usage.error,
  }));
  ws.close();
  process.exit(0);
});
ws.on('error', (e) => { console.error(`heap: ${e.message}`); process.exit(2); });

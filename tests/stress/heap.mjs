// Reads the Worker's memory through workerd's own inspector port (not wrangler's inspector proxy: that proxy
// buffers every console message of the run while no devtools client is attached and replays them all to the next
// client, 200,000 JSON lines after a full load, so a reading through it never got an answer in time).
// Forces a full garbage collection, then prints one JSON line, sizes in bytes:
//   {"used","total","backing","wasm":[byteLength of each live WebAssembly.Memory],"ms":{step: elapsed}}
// `backing`: ArrayBuffer backing stores (the Wasm memory among them). Usage: node heap.mjs <workerd-inspector-port>.
// Uses the `ws` package wrangler already installs; gives up after 20 s, naming the step it was waiting for.
import WebSocket from 'ws';

const port = process.argv[2];
const t0 = Date.now();
const ms = {};
let step = 'list targets';
setTimeout(() => { console.error(`heap: no answer within 20 s (waiting for: ${step})`); process.exit(2); }, 20000).unref();
const targets = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
const url = targets[0]?.webSocketDebuggerUrl;
if (!url) { console.error(`heap: no inspector target: ${JSON.stringify(targets)}`); process.exit(2); }
const ws = new WebSocket(url);
let id = 0;
const pending = new Map();
let contextId;
ws.on('message', (data) => {
  const msg = JSON.parse(data);
  if (msg.method === 'Runtime.executionContextCreated') contextId ??= msg.params.context.id;
  if (msg.id && pending.has(msg.id)) { pending.get(msg.id)(msg); pending.delete(msg.id); }
});
const call = (method, params = {}) => new Promise((resolve, reject) => {
  step = method;
  id += 1;
  pending.set(id, (msg) => {
    ms[method] = Date.now() - t0;
    if (msg.error) reject(new Error(`${method}: ${JSON.stringify(msg.error)}`)); else resolve(msg.result);
  });
  ws.send(JSON.stringify({ id, method, params }));
});
ws.on('open', async () => {
  try {
    ms.open = Date.now() - t0;
    await call('HeapProfiler.collectGarbage');
    const usage = await call('Runtime.getHeapUsage');
    // Evaluating needs an execution context, which the inspector names only after `Runtime.enable` (which also
    // replays the console messages V8 keeps: at most 1,000, ignored here).
    await call('Runtime.enable');
    // workerd has no default context: evaluate in the one the inspector announced.
    const proto = await call('Runtime.evaluate', { expression: 'WebAssembly.Memory.prototype', contextId });
    const found = await call('Runtime.queryObjects', { prototypeObjectId: proto.result.objectId });
    const sizes = await call('Runtime.callFunctionOn', {
      objectId: found.objects.objectId,
      functionDeclaration: 'function () { return this.map((m) => m.buffer.byteLength); }',
      returnByValue: true,
    });
    console.log(JSON.stringify({
      used: usage.usedSize, total: usage.totalSize, backing: usage.backingStorageSize, wasm: sizes.result.value, ms,
    }));
    process.exit(0);
  } catch (e) {
    console.error(`heap: ${e.message}`);
    process.exit(2);
  }
});
ws.on('close', (code) => { console.error(`heap: the inspector closed the session (${code}) while waiting for: ${step}`); process.exit(2); });
ws.on('error', (e) => { console.error(`heap: ${e.message}`); process.exit(2); });

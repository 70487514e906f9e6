// The browser half of the end-to-end CORS test (tests/e2e/browser.rs runs it): a real headless Chromium (Debian's
// `chromium` package, driven by `playwright-core`; nothing is downloaded) opens a page from each test origin and
// makes cross-origin `fetch` calls from it to the Worker under test. The browser applies CORS itself: it sends the
// preflights, decides what the page may read, and rejects what it may not. This script asserts nothing; it
// reports what the page saw as one JSON document on stdout, and browser.rs asserts on that, on the recording
// upstream, and on the Worker's decision logs.
//
//   node tests/e2e/browser.mjs '<spec JSON>'
//
// spec: {chromium, work_dir, api: {host, addr}, pages: {<name>: <host>, ...}, timeout_ms, deadline_ms,
//        scenarios: [{name, page, method, path, headers, body, credentials}, ...]}
//
// Origins are fixed (the bundled policy names them) but ports are not: Chromium's --host-resolver-rules sends
// every page host to this script's page server and the API host to `api.addr`, so the page at
// http://spa.e2e.test has exactly that origin (no port) while both servers listen on free ports. Every other host
// name fails to resolve. Every wait is bounded (`timeout_ms` each, `deadline_ms` in all); the browser is closed
// on every path out, and when stdin closes (the test process went away) or on SIGTERM.
//
// Output: {ok: true, chromium, launch_ms, total_ms, page_requests, scenarios: [{name, page, url, origin, ok,
// status?, headers?, json?, text?, error?, ms, console}]} or {ok: false, error}; the exit code is 0 only with
// ok: true.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

const started = Date.now();
let spec;
try {
  spec = JSON.parse(process.argv[2] ?? '');
} catch (e) {
  console.log(JSON.stringify({ ok: false, error: `browser.mjs: the spec (argv[2]) is not JSON: ${e.message}` }));
  process.exit(2);
}

let context = null;
let server = null;
let finished = false;

/** Prints the one result document, closes what is open (bounded), and exits. */
async function finish(result, code) {
  if (finished) return;
  finished = true;
  const closing = [];
  if (context) closing.push(context.close().catch(() => {}));
  if (server) closing.push(new Promise((resolve) => server.close(() => resolve())));
  await Promise.race([Promise.all(closing), sleep(5000)]);
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(code));
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// The whole run is bounded, and it stops when the test process goes away (its end of our stdin closes).
const deadline = setTimeout(
  () => finish({ ok: false, error: `browser.mjs: not done within ${spec.deadline_ms} ms` }, 3),
  spec.deadline_ms,
);
process.stdin.on('end', () => finish({ ok: false, error: 'browser.mjs: stdin closed (test process gone)' }, 4));
process.stdin.on('error', () => {});
process.stdin.resume();
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
  process.on(signal, () => finish({ ok: false, error: `browser.mjs: ${signal}` }, 5));
}

try {
  await main();
} catch (e) {
  await finish({ ok: false, error: `browser.mjs: ${e && e.stack ? e.stack : e}` }, 1);
}

async function main() {
  let chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch (e) {
    throw new Error(`cannot load the npm package playwright-core (run \`make setup\`): ${e.message}`);
  }
  if (!fs.existsSync(spec.chromium)) {
    throw new Error(`Chromium not found at ${spec.chromium}: run \`make setup\` (installs Debian's chromium)`);
  }

  // The pages: one server for every test origin, told apart by Host.
  const html = fs.readFileSync(new URL('./pages/cors.html', import.meta.url));
  const pageRequests = [];
  server = http.createServer((req, res) => {
    pageRequests.push({ method: req.method, host: req.headers.host ?? null, url: req.url });
    if (req.method === 'GET' && req.url === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(html);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
    }
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const pagePort = server.address().port;

  const rules = [
    ...Object.values(spec.pages).map((host) => `MAP ${host} 127.0.0.1:${pagePort}`),
    `MAP ${spec.api.host} ${spec.api.addr}`,
    'MAP * ~NOTFOUND',
  ].join(', ');
  const dir = (name) => {
    const p = path.join(spec.work_dir, name);
    fs.mkdirSync(p, { recursive: true });
    return p;
  };
  const launchStarted = Date.now();
  context = await chromium.launchPersistentContext(dir('profile'), {
    executablePath: spec.chromium,
    headless: true,
    timeout: spec.timeout_ms,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-proxy-server',
      `--host-resolver-rules=${rules}`,
    ],
    // Keep Chromium's own files (crash reports, caches) inside the test's directory, not in $HOME.
    env: { ...process.env, XDG_CONFIG_HOME: dir('config'), XDG_CACHE_HOME: dir('cache') },
  });
  const launchMs = Date.now() - launchStarted;
  const version = context.browser()?.version() ?? null;

  const consoleMessages = [];
  const pages = {};
  for (const [name, host] of Object.entries(spec.pages)) {
    // The persistent context opens with one blank page: the first origin uses it, the others get their own.
    const blank = context.pages()[0];
    const page = Object.keys(pages).length === 0 && blank ? blank : await context.newPage();
    page.setDefaultTimeout(spec.timeout_ms);
    page.on('console', (m) => consoleMessages.push({ page: name, type: m.type(), text: m.text(), url: m.location().url }));
    page.on('pageerror', (e) => consoleMessages.push({ page: name, type: 'pageerror', text: String(e), url: '' }));
    await page.goto(`http://${host}/`, { timeout: spec.timeout_ms });
    pages[name] = page;
  }

  const results = [];
  for (const s of spec.scenarios) {
    const page = pages[s.page];
    if (!page) throw new Error(`scenario ${s.name}: no page named ${s.page}`);
    const url = `http://${spec.api.host}${s.path}`;
    const r = await page.evaluate((c) => window.runCase(c), {
      url,
      method: s.method,
      headers: s.headers ?? {},
      body: s.body ?? null,
      credentials: s.credentials,
      timeout_ms: spec.timeout_ms,
    });
    results.push({ name: s.name, page: s.page, url, ...r, console: [] });
  }

  // Console messages (Chromium explains each CORS refusal there) can trail the fetch's rejection: give every
  // refused fetch a bounded moment to get its message, then hand each scenario the messages about its URL.
  // Chromium quotes the URL in its CORS messages; the quotes keep `/x` from matching `/x-y`'s messages.
  const about = (r) => consoleMessages.filter((m) => m.text.includes(`'${r.url}'`) || m.url === r.url);
  const waitUntil = Date.now() + Math.min(2000, spec.timeout_ms);
  while (results.some((r) => !r.ok && about(r).length === 0) && Date.now() < waitUntil) await sleep(25);
  for (const r of results) r.console = about(r);

  clearTimeout(deadline);
  await finish(
    {
      ok: true,
      chromium: version,
      launch_ms: launchMs,
      total_ms: Date.now() - started,
      page_requests: pageRequests,
      scenarios: results,
    },
    0,
  );
}

// The race's upstream: a fast loopback HTTP server answering every request 200 with a small body, counting what
// it receives. GET /__race/count answers (and does not count) { count, with_subject }: requests received and how
// many carried an X-Auth-Subject header (set by edge-access and the jose Worker from the verified token).
//
// Usage: node bench/upstream.mjs PORT_FILE   (listens on 127.0.0.1, a free port, written to PORT_FILE)
import { createServer } from 'node:http';
import { writeFileSync } from 'node:fs';

const portFile = process.argv[2];
let count = 0;
let withSubject = 0;
const body = Buffer.from('{"ok":true}\n');

const server = createServer((req, res) => {
  if (req.url === '/__race/count') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ count, with_subject: withSubject }));
    return;
  }
  count++;
  if (req.headers['x-auth-subject'] !== undefined) withSubject++;
  // Drain any request body, then answer.
  req.resume();
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  if (portFile) writeFileSync(portFile, String(port));
  console.log(`upstream: listening on 127.0.0.1:${port}`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));

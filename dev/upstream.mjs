// Demo upstream (origin) for `make dev`: plain Node 20, no dependencies.
//
// Listens on 127.0.0.1:$PORT (default 8788) and answers every request with 200 and pretty JSON showing what
// reached it, so a developer can see which requests edge-access let through and which identity headers
// (`x-auth-*`) it added. Logs one line per request to stdout. It is a demo: it never proxies anything further,
// never reads files, and only listens on loopback.
import http from "node:http";

const port = Number.parseInt(process.env.PORT ?? "8788", 10);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`upstream: invalid PORT \`${process.env.PORT}\``);
  process.exit(2);
}

const server = http.createServer((req, res) => {
  let bodyBytes = 0;
  req.on("data", (chunk) => {
    bodyBytes += chunk.length;
  });
  req.on("end", () => {
    // Raw target, not `new URL(...)`: that would resolve `..` and hide what edge-access really forwarded.
    const target = req.url ?? "";
    const q = target.indexOf("?");
    const identity = {};
    const headers = {};
    // rawHeaders keeps duplicates and order; repeated names are joined with ", " in the JSON view.
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i].toLowerCase();
      const value = req.rawHeaders[i + 1];
      headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
      if (name.startsWith("x-auth-")) {
        identity[name] = headers[name];
      }
    }
    const reply = {
      reached_upstream: true,
      method: req.method,
      path: q < 0 ? target : target.slice(0, q),
      query: q < 0 ? "" : target.slice(q + 1),
      identity_headers: identity,
      headers,
      body_bytes: bodyBytes,
    };
    const body = JSON.stringify(reply, null, 2) + "\n";
    res.writeHead(200, {
      "content-type": "application/json; charset=utf-8",
      "content-length": Buffer.byteLength(body),
      "x-upstream": "edge-access-demo",
    });
    res.end(req.method === "HEAD" ? undefined : body);
    const who = Object.keys(identity).length ? ` identity=${JSON.stringify(identity)}` : "";
    console.log(`${new Date().toISOString()} ${req.method} ${req.url}${who}`);
  });
  req.on("error", (err) => {
    console.log(`${new Date().toISOString()} ${req.method} ${req.url} error=${err.message}`);
  });
});

server.on("clientError", (err, socket) => {
  if (socket.writable) {
    socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
  }
});

server.listen(port, "127.0.0.1", () => {
  const addr = server.address();
  console.log(`upstream: demo origin listening on http://127.0.0.1:${addr.port} (every request answers 200 JSON)`);
});

for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => process.exit(0));
}

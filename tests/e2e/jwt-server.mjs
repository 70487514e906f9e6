// A real JWKS endpoint and token mint for the end-to-end tests, built on the independent `jose` package (not on
// edge-access's own code). It listens on 127.0.0.1 (port 0: the OS picks) and prints `listening <port>`.
//
//   GET  /jwks          the published public keys (503 while "down", garbage JSON while "garbage", `{"keys": []}`
//                       while "empty", one key of an unknown `kty` while "unusable")
//   POST /mint          {alg, kid?, claims, header?, secret?, private_jwk?} -> {token}; signs with the named key
//                       even if it is not published yet (to test rotation); HS* algorithms sign with `secret`;
//                       `private_jwk` signs with that key instead (the bundled-JWKS tests)
//   POST /rotate        publishes the next generation of keys (kids `*-2`), keeping the first ones
//   POST /retire        stops publishing the first generation
//   POST /mode          {mode: "up" | "down" | "garbage" | "slow" | "empty" | "unusable"}
//   GET  /stats         {fetches}
import http from 'node:http';
import { generateKeyPair, exportJWK, importJWK, SignJWT } from 'jose';

const algs = { rsa: 'RS256', ec: 'ES256', ed: 'EdDSA' };
const keys = new Map(); // kid -> {privateKey, jwk, generation}
for (const generation of [1, 2]) {
  for (const [name, alg] of Object.entries(algs)) {
    const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: `${name}-${generation}`, alg, use: 'sig' };
    keys.set(jwk.kid, { privateKey, jwk, generation, alg });
  }
}
let published = new Set([1]);
let mode = 'up';
let fetches = 0;

const body = (req) =>
  new Promise((resolve) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => resolve(data ? JSON.parse(data) : {}));
  });
const send = (res, status, value) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(typeof value === 'string' ? value : JSON.stringify(value));
};

const server = http.createServer(async (req, res) => {
  try {
    if (req.method === 'GET' && req.url === '/jwks') {
      fetches += 1;
      if (mode === 'down') return send(res, 503, { error: 'down' });
      if (mode === 'garbage') return send(res, 200, '{"keys": [ this is not json');
      if (mode === 'slow') await new Promise((r) => setTimeout(r, 15000));
      // A well-formed set with no usable key: empty (an emergency revocation), or only a key type no verifier knows.
      if (mode === 'empty') return send(res, 200, { keys: [] });
      if (mode === 'unusable') return send(res, 200, { keys: [{ kty: 'PQC', kid: 'pqc-1', use: 'sig' }] });
      const jwks = [...keys.values()].filter((k) => published.has(k.generation)).map((k) => k.jwk);
      return send(res, 200, { keys: jwks });
    }
    if (req.method === 'GET' && req.url === '/stats') return send(res, 200, { fetches });
    if (req.method !== 'POST') return send(res, 404, { error: 'not found' });
    const input = await body(req);
    if (req.url === '/mint') {
      const alg = input.alg || 'RS256';
      let key;
      let kid = input.kid;
      if (input.private_jwk) {
        key = await importJWK(input.private_jwk, alg);
      } else if (alg.startsWith('HS')) {
        key = new TextEncoder().encode(input.secret);
      } else {
        kid = kid || `${Object.keys(algs).find((n) => algs[n] === alg)}-1`;
        const entry = keys.get(kid) || [...keys.values()].find((k) => k.alg === alg);
        key = entry.privateKey;
      }
      const header = { alg, ...(kid && !alg.startsWith('HS') ? { kid } : {}), ...(input.header || {}) };
      if (input.private_jwk) header.kid = input.private_jwk.kid;
      const token = await new SignJWT(input.claims || {}).setProtectedHeader(header).sign(key);
      return send(res, 200, { token });
    }
    if (req.url === '/rotate') {
      published.add(2);
      return send(res, 200, { published: [...published] });
    }
    if (req.url === '/retire') {
      published.delete(1);
      return send(res, 200, { published: [...published] });
    }
    if (req.url === '/mode') {
      mode = input.mode;
      return send(res, 200, { mode });
    }
    return send(res, 404, { error: 'not found' });
  } catch (e) {
    return send(res, 500, { error: String(e) });
  }
});
server.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));

// The competitor in the race: the checks of the race policy (target/bench/race/policy.json, written by
// bench/gen.mjs) written by hand in JavaScript the way a careful Workers developer would, with the `jose` package
// for the JWT. Work that can be done once is done once, at module load: the public key is imported once, the
// 100k CIDRs are parsed into sorted, merged numeric ranges (IPv4 as numbers in Float64Arrays, IPv6 as BigInts)
// searched by bisection, the exact origins go into a Set and the wildcard origins into a short list.
//
// Same semantics as the edge-access policy for the race traffic: the 21 rules in the same order (health, the
// blocklist, sanctioned countries, the report-only cloud list, ..., the token requirement on /v1, api-v1), the
// same issuer checks (ES256 only, iss, aud, exp required, 60 s leeway, the orders:read scope), the same
// X-Auth-Subject claim forwarding, and the same sampling of allowed-request log lines. It does not reproduce
// edge-access's hardening (path normalisation beyond the URL parser's, header-spelling stripping, token-source
// ambiguity, ...): that is extra work edge-access does and this Worker skips.
//
// scripts/race.sh copies this file next to the generated data.json (the lists are megabytes: not committed).
import { importJWK, jwtVerify } from 'jose';
import data from './data.json';

// --- IP lists: parsed once into sorted, merged ranges ----------------------------------------------------------
function parseV4(s) {
  const parts = s.split('.');
  if (parts.length !== 4) return -1;
  let n = 0;
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return -1;
    const v = Number(p);
    if (v > 255) return -1;
    n = n * 256 + v;
  }
  return n;
}

function parseV6(s) {
  let tail4 = null;
  const lastColon = s.lastIndexOf(':');
  if (s.indexOf('.', lastColon) > 0) {
    // embedded IPv4 (::ffff:192.0.2.1)
    tail4 = parseV4(s.slice(lastColon + 1));
    if (tail4 < 0) return null;
    s = s.slice(0, lastColon + 1) + '0:0';
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const fill = 8 - head.length - tail.length;
  if (halves.length === 1 ? fill !== 0 : fill < 1) return null;
  let n = 0n;
  for (const g of [...head, ...Array(halves.length === 2 ? fill : 0).fill('0'), ...tail]) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
    n = (n << 16n) | BigInt(parseInt(g, 16));
  }
  if (tail4 !== null) n = (n & ~0xffffffffn) | BigInt(tail4);
  return n;
}

const MAPPED_V4 = 0xffffn << 32n; // ::ffff:0:0/96

/** The client address as { v4: number } or { v6: BigInt }, IPv4-mapped IPv6 as IPv4; null when invalid. */
function parseIp(s) {
  if (s.includes(':')) {
    const n = parseV6(s);
    if (n === null) return null;
    if (n >> 32n === 0xffffn) return { v4: Number(n & 0xffffffffn) };
    return { v6: n };
  }
  const n = parseV4(s);
  return n < 0 ? null : { v4: n };
}

function merged(ranges) {
  ranges.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const out = [];
  for (const r of ranges) {
    const last = out[out.length - 1];
    if (last && r[0] <= last[1] + (typeof r[0] === 'bigint' ? 1n : 1)) {
      if (r[1] > last[1]) last[1] = r[1];
    } else {
      out.push([r[0], r[1]]);
    }
  }
  return out;
}

function compileList(cidrs) {
  const v4 = [];
  const v6 = [];
  for (const cidr of cidrs) {
    const [addr, lenText] = cidr.split('/');
    if (addr.includes(':')) {
      const len = lenText === undefined ? 128 : Number(lenText);
      const host = (1n << BigInt(128 - len)) - 1n;
      const start = parseV6(addr) & ~host;
      v6.push([start, start | host]);
      if (len >= 96 && start >> 32n === 0xffffn) {
        // a range inside ::ffff:0:0/96 also covers the IPv4 addresses it maps
        v4.push([Number(start & 0xffffffffn), Number((start | host) & 0xffffffffn)]);
      }
    } else {
      const len = lenText === undefined ? 32 : Number(lenText);
      const size = 2 ** (32 - len);
      const start = parseV4(addr) - (parseV4(addr) % size);
      v4.push([start, start + size - 1]);
    }
  }
  const m4 = merged(v4);
  const m6 = merged(v6);
  return {
    v4Starts: Float64Array.from(m4, (r) => r[0]),
    v4Ends: Float64Array.from(m4, (r) => r[1]),
    v6Starts: m6.map((r) => r[0]),
    v6Ends: m6.map((r) => r[1]),
  };
}

/** Whether x lies in one of the sorted, disjoint ranges [starts[i], ends[i]]. */
function inRanges(starts, ends, x) {
  let lo = 0;
  let hi = starts.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (starts[mid] <= x) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found >= 0 && x <= ends[found];
}

function inList(list, ip) {
  return ip.v4 !== undefined ? inRanges(list.v4Starts, list.v4Ends, ip.v4) : inRanges(list.v6Starts, list.v6Ends, ip.v6);
}

const lists = Object.fromEntries(Object.entries(data.ip_lists).map(([name, cidrs]) => [name, compileList(cidrs)]));
const { blocklist, cloud, office } = lists;

// --- origins: exact ones in a Set, wildcards as (scheme, suffix, port) -----------------------------------------
const exactOrigins = new Set();
const wildcardOrigins = [];
for (const o of data.origins) {
  const m = /^(https?):\/\/\*\.([^:/]+)(?::(\d+))?$/.exec(o);
  if (m) wildcardOrigins.push({ scheme: m[1], suffix: `.${m[2]}`, port: m[3] ?? '' });
  else exactOrigins.add(o);
}
const ORIGIN_RE = /^(https?):\/\/([a-z0-9-]+(?:\.[a-z0-9-]+)*)(?::([0-9]{1,5}))?$/;

function originAllowed(origin) {
  if (exactOrigins.has(origin)) return true;
  const m = ORIGIN_RE.exec(origin.toLowerCase());
  if (!m) return false;
  const [, scheme, host] = m;
  let port = m[3] ?? '';
  if ((scheme === 'https' && port === '443') || (scheme === 'http' && port === '80')) port = '';
  if (exactOrigins.has(port ? `${scheme}://${host}:${port}` : `${scheme}://${host}`)) return true;
  return wildcardOrigins.some((w) => w.scheme === scheme && w.port === port && host.endsWith(w.suffix));
}

// --- the issuer: the key imported once ---------------------------------------------------------------------------
const ISSUER = data.issuer;
// (null in the race's --no-token variant, whose policy has no issuer and no token rule)
const keyPromise = ISSUER && importJWK(ISSUER.jwk, 'ES256');
const VERIFY_OPTIONS = ISSUER && {
  algorithms: ['ES256'],
  issuer: ISSUER.issuer,
  audience: ISSUER.audience,
  requiredClaims: ['exp'],
  clockTolerance: ISSUER.leeway,
};

/** The verified claims, or a denial response. */
async function verifyToken(request, realm) {
  const auth = request.headers.get('authorization');
  const m = auth && /^Bearer ([A-Za-z0-9_.-]+)$/.exec(auth);
  if (!m) return deny(401, 'token_missing', { 'www-authenticate': `Bearer realm="${realm}"` });
  if (m[1].length > 8192) return deny(401, 'token_too_large', { 'www-authenticate': `Bearer realm="${realm}", error="invalid_token"` });
  try {
    const { payload } = await jwtVerify(m[1], await keyPromise, VERIFY_OPTIONS);
    return { payload };
  } catch {
    return deny(401, 'invalid_token', { 'www-authenticate': `Bearer realm="${realm}", error="invalid_token"` });
  }
}

// --- the rules ---------------------------------------------------------------------------------------------------
const sanctioned = new Set(data.countries.sanctioned);
const eu = new Set(data.countries.eu);
const under = (path, prefixes) => prefixes.some((p) => path === p || path.startsWith(`${p}/`));
const WRITE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const API_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH', 'DELETE']);
const SAMPLE_ALLOWED = data.logging?.sample_allowed ?? 0.01;

function deny(status, code, headers = {}) {
  return new Response(JSON.stringify({ error: code }), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
  });
}

async function forward(request, env, url, add) {
  const headers = new Headers(request.headers);
  headers.delete('x-auth-subject');
  for (const [name, value] of add) headers.set(name, value);
  const target = env.ORIGIN_URL.replace(/\/$/, '') + url.pathname + url.search;
  return fetch(new Request(target, { method: request.method, headers, body: request.body, redirect: 'manual' }));
}

function logAllowed(rule, request, url, ipText) {
  if (Math.random() < SAMPLE_ALLOWED) {
    console.log(JSON.stringify({ time: new Date().toISOString(), effect: 'allow', rule, method: request.method, host: url.hostname, path: url.pathname, client_ip: ipText }));
  }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const host = url.hostname;
    const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname;
    const method = request.method.toUpperCase();
    const country = request.cf?.country;
    const ipText = request.headers.get('cf-connecting-ip');
    const ip = ipText === null ? null : parseIp(ipText);
    if (ipText === null) return deny(403, 'client_ip_missing');
    if (ip === null) return deny(403, 'client_ip_invalid');
    const origin = request.headers.get('origin');
    const allow = (rule, add = []) => {
      logAllowed(rule, request, url, ipText);
      return forward(request, env, url, add);
    };

    if ((path === '/health' || path === '/ready') && (method === 'GET' || method === 'HEAD')) return allow('health');
    if (inList(blocklist, ip)) return deny(403, 'ip_denied');
    if (country && sanctioned.has(country)) return deny(403, 'geo_blocked');
    if (inList(cloud, ip)) console.log(JSON.stringify({ effect: 'deny', report_only: true, rule: 'cloud-report', client_ip: ipText }));
    if (method === 'TRACE' || method === 'CONNECT') return deny(403, 'method_denied');
    if (under(path, ['/admin', '/internal']) && !inList(office, ip)) return deny(404, 'not_found');
    if (origin !== null && !originAllowed(origin)) return deny(403, 'origin_denied');
    const segments = path.split('/');
    if (segments.includes('.git') || segments[segments.length - 1] === '.env') return deny(404, 'not_found');
    const api = host === 'api.example.com';
    if (api && under(path, ['/v0'])) return deny(404, 'not_found');
    if (WRITE.has(method) && under(path, ['/v1']) && origin === null && !inList(office, ip)) return deny(403, 'origin_required');
    if (under(path, ['/v1/uploads']) && !(country && eu.has(country))) return deny(403, 'region_denied');
    if (segments.length === 4 && segments[1] === 'v1' && segments[3] === 'export'
      && !inList(office, ip) && !(origin !== null && originAllowed(origin))) return deny(403, 'forbidden');
    if ((host === 'static.example.com' || host.endsWith('.cdn.example.com')) && (method === 'GET' || method === 'HEAD')) return allow('static');
    if (host === 'hooks.example.com' && (path === '/stripe' || path === '/github') && method === 'POST') return allow('webhooks');
    if (host.endsWith('.staging.example.com') && !inList(office, ip)) return deny(404, 'not_found');
    if (under(path, ['/wp-admin']) || path === '/wp-login.php' || path === '/xmlrpc.php') return deny(404, 'not_found');
    if (host === 'docs.example.com' && (method === 'GET' || method === 'HEAD')) return allow('docs');
    if (api && !API_METHODS.has(method)) return deny(403, 'method_denied');
    if (api && path === '/graphql' && (method === 'GET' || method === 'POST')) return allow('graphql');
    if (api && under(path, ['/v1']) && ISSUER) {
      const verified = await verifyToken(request, host);
      if (verified instanceof Response) return verified;
      const scope = verified.payload.scope;
      if (typeof scope !== 'string' || !scope.split(' ').includes(ISSUER.scope)) {
        return deny(403, 'claim_mismatch', { 'www-authenticate': `Bearer realm="${host}", error="insufficient_scope"` });
      }
      return allow('api-v1', typeof verified.payload.sub === 'string' ? [['x-auth-subject', verified.payload.sub]] : []);
    }
    if (api && under(path, ['/v1'])) return allow('api-v1');
    return deny(404, 'not_routed');
  },
};

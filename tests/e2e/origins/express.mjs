// The oracle's Express origin (tests/e2e/oracle/): express 4 with method-override (`X-HTTP-Method-Override`,
// then `_method` in the query, as `methodOverride('_method')` reads it) and cookie-parser, and an express.Router
// holding the routes of routes.json with Express's own matching (string paths through path-to-regexp 0.1,
// `caseSensitive` and `strict` as configured below). Every routed request answers 200 with a JSON echo of what
// Express read; anything else 404. Each request's `x-oracle-id` is appended to the seen file first, so the test can
// prove a denied request never arrived.
//
//   node express.mjs <routes.json> <seen-file>      prints `listening <port>` (127.0.0.1, a port the OS picked)
import fs from 'node:fs';
import express from 'express';
import methodOverride from 'method-override';
import cookieParser from 'cookie-parser';

const [routesFile, seenFile] = process.argv.slice(2);
const { routes } = JSON.parse(fs.readFileSync(routesFile, 'utf8'));

// Express routes paths case-insensitively by default, and the filter (like nginx and PHP frameworks) compares them
// case-sensitively unless the policy sets `paths.case_insensitive`: `/oracle/ADMIN` would reach the admin route
// past a rule on `/oracle/admin`. The oracle found it (see the README's Tests section); an Express origin behind
// the filter needs `caseSensitive: true` (or the policy `paths.case_insensitive`). `strict` stays false (a trailing
// slash is ignored), as the filter ignores it too.
const CASE_SENSITIVE = process.env.ORACLE_EXPRESS_CASE_SENSITIVE !== '0';

const app = express();
app.set('case sensitive routing', CASE_SENSITIVE);
app.set('etag', false);
app.set('x-powered-by', false);
app.use((req, res, next) => {
  fs.appendFileSync(seenFile, `${req.headers['x-oracle-id'] ?? '-'}\n`);
  res.set('x-oracle-origin', 'express');
  next();
});
app.use(methodOverride('X-HTTP-Method-Override'));
app.use(methodOverride('_method'));
app.use(cookieParser());

// A literal path for path-to-regexp 0.1: it keeps `\x` escapes as they are, so every character that means
// something in a regex or to path-to-regexp (`:name`, `*`, `(`, `.`) is escaped.
const literal = (p) => p.replace(/[\\^$+?()[\]{}|:*.]/g, (c) => `\\${c}`);
const pathsOf = (route) => {
  if (route.exact) return [literal(route.exact)];
  if (route.prefix) return [literal(route.prefix), `${literal(route.prefix)}/*`];
  // A glob's `*` is one segment: a named parameter.
  let n = 0;
  return [route.glob.split('/').map((s) => (s === '*' ? `:seg${n++}` : literal(s))).join('/')];
};

const router = express.Router({ caseSensitive: CASE_SENSITIVE, strict: false });
for (const route of routes) {
  router.all(pathsOf(route), (req, res) => {
    res.json({
      origin: 'express',
      route: route.name,
      method: req.method,
      raw_method: req.originalMethod,
      uri: req.path,
      request_uri: req.originalUrl,
      cookie_token: req.cookies.oracle_session ?? null,
      query_token: req.query.oracle_token ?? null,
    });
  });
}
app.use(router);
app.use((req, res) => res.status(404).json({ origin: 'express', route: null, request_uri: req.originalUrl }));
// A malformed request (for instance an escape decodeURIComponent refuses in a parameter) is a refusal: 400.
app.use((err, req, res, _next) => res.status(err.status || 400).json({ origin: 'express', error: String(err.message) }));

const server = app.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));

// The baseline for the load phase's memory figures: a JavaScript Worker that checks nothing, forwards every
// request to ORIGIN_URL (as bench/passthrough does) and logs one JSON line per request with console.log, as
// edge-access does for its decisions. Run the load phase against it with
//   STRESS_WORKER="$PWD/tests/stress/trivial-worker.mjs" scripts/stress.sh load
// (its denied classes then fail their checks, by design: only the RSS and heap figures are of interest).
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    console.log(JSON.stringify({ time: new Date().toISOString(), effect: 'allow', method: request.method, path: url.pathname }));
    const target = env.ORIGIN_URL.replace(/\/$/, '') + url.pathname + url.search;
    return fetch(new Request(target, request));
  },
};

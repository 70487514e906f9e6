// The floor of the race: a Worker that checks nothing and forwards every request to ORIGIN_URL, keeping the path
// and query. Whatever edge-access or the jose Worker cost on top of this is the price of their checks.
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const target = env.ORIGIN_URL.replace(/\/$/, '') + url.pathname + url.search;
    return fetch(new Request(target, request));
  },
};

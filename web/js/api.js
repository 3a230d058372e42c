// The Portcullis API client of the console (api/openapi.yaml). Every call
// carries the Cognito access token as a bearer token; a 401 gets one retry
// after a token refresh, then becomes an ApiError(401) that the console shows
// as "session expired: sign in again".

import { ApiError, errorFromResponse } from './errors.js';

/**
 * @param {object} opts
 * @param {string} opts.baseUrl API base URL, without a trailing slash
 * @param {() => Promise<string|null>} opts.token a valid access token (refreshed when near expiry)
 * @param {() => Promise<boolean>} opts.refresh force a refresh after a 401; true if a new token was obtained
 * @param {typeof fetch} [opts.fetchImpl]
 */
export function createApi({ baseUrl, token, refresh, fetchImpl = (...a) => fetch(...a) }) {
  const base = baseUrl.replace(/\/+$/, '');

  async function send(method, path, { body, headers = {}, raw = false } = {}) {
    const url = `${base}${path}`;
    const attempt = async () => {
      const h = new Headers(headers);
      const t = await token();
      if (t) h.set('authorization', `Bearer ${t}`);
      let payload;
      if (body !== undefined) {
        if (typeof body === 'string') {
          payload = body;
        } else {
          payload = JSON.stringify(body);
          if (!h.has('content-type')) h.set('content-type', 'application/json');
        }
      }
      try {
        return await fetchImpl(url, { method, headers: h, body: payload, mode: 'cors', credentials: 'omit', cache: 'no-store' });
      } catch (e) {
        // fetch rejects only when no answer came back (network, CORS).
        throw new ApiError({ status: 0, detail: e instanceof Error ? e.message : String(e), url });
      }
    };
    let resp = await attempt();
    if (resp.status === 401 && (await refresh())) {
      resp = await attempt();
    }
    if (raw) return resp;
    const text = await resp.text();
    if (!resp.ok) throw errorFromResponse(resp.status, resp.headers, text, url);
    if (!text) return null;
    try {
      return JSON.parse(text);
    } catch {
      throw new ApiError({ status: resp.status, detail: `the answer of ${method} ${path} is not JSON`, url });
    }
  }

  const enc = encodeURIComponent;
  const query = (params) => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
    const s = q.toString();
    return s ? `?${s}` : '';
  };

  return {
    me: () => send('GET', '/v1/me'),
    listJobs: ({ limit, cursor, status, type } = {}) => send('GET', `/v1/jobs${query({ limit, cursor, status, type })}`),
    getJob: (id) => send('GET', `/v1/jobs/${enc(id)}`),
    jobEvents: (id) => send('GET', `/v1/jobs/${enc(id)}/events`),
    submitJob: (request, idempotencyKey) =>
      send('POST', '/v1/jobs', { body: request, headers: { 'idempotency-key': idempotencyKey } }),
    cancelJob: (id) => send('POST', `/v1/jobs/${enc(id)}/cancel`),
    listKeys: ({ limit, cursor } = {}) => send('GET', `/v1/keys${query({ limit, cursor })}`),
    createKey: (request) => send('POST', '/v1/keys', { body: request }),
    revokeKey: (id) => send('DELETE', `/v1/keys/${enc(id)}`),
    /**
     * A call to a private service through the proxy. Answers the raw Response
     * (any status: a service's own 4xx/5xx is its answer, not an API error);
     * only a network failure throws.
     */
    callService: (service, path, method, body, contentType) => {
      const clean = String(path).replace(/^\/+/, '');
      const headers = body !== undefined && contentType ? { 'content-type': contentType } : {};
      return send(method, `/v1/services/${enc(service)}/${clean}`, { body, headers, raw: true });
    },
  };
}

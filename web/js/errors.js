// What the console tells a person when a call fails: one place that turns an
// HTTP answer (or a network failure) into a message, for every view.
//
// The platform answers errors as RFC 9457 problem+json (shared/core/src/error.rs:
// type, title, status, detail, instance "urn:request:<id>", field); API
// Gateway's own answers (401, 403, 429, 5xx gateway responses) carry
// `request_id`. The request id is read from the x-request-id or
// x-amzn-requestid header when the API exposes it, else from the body.

/** A failed API call: status 0 means the request never got an answer. */
export class ApiError extends Error {
  constructor({ status, title = '', detail = '', field = null, requestId = null, url = '', body = null }) {
    super(detail || title || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.title = title;
    this.detail = detail;
    this.field = field;
    this.requestId = requestId;
    this.url = url;
    this.body = body;
  }
}

const URN_PREFIX = 'urn:request:';

/**
 * The request id of an answer: a header first, then the problem document
 * (`requestId`, `request_id`, or `instance` = "urn:request:<id>").
 * @param {{get(name: string): string|null}|null} headers
 * @param {unknown} body the parsed JSON body, or anything else
 * @returns {string|null}
 */
export function requestIdOf(headers, body) {
  for (const name of ['x-request-id', 'x-amzn-requestid', 'x-amz-apigw-id']) {
    const v = headers?.get?.(name);
    if (v && v.trim()) return v.trim();
  }
  if (body && typeof body === 'object' && !Array.isArray(body)) {
    for (const key of ['requestId', 'request_id']) {
      const v = body[key];
      if (typeof v === 'string' && v.trim()) return v.trim();
    }
    const inst = body.instance;
    if (typeof inst === 'string' && inst.startsWith(URN_PREFIX) && inst.length > URN_PREFIX.length) {
      return inst.slice(URN_PREFIX.length);
    }
  }
  return null;
}

/**
 * Build the ApiError of a non-2xx answer from its status, headers and text.
 * @param {number} status
 * @param {{get(name: string): string|null}} headers
 * @param {string} text
 * @param {string} url
 */
export function errorFromResponse(status, headers, text, url = '') {
  let body = null;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
  }
  const obj = body && typeof body === 'object' && !Array.isArray(body) ? body : {};
  const str = (v) => (typeof v === 'string' ? v : '');
  // API Gateway's default answers are {"message": "..."}.
  const detail = str(obj.detail) || str(obj.message) || str(obj.Message) || (body === null ? text.slice(0, 300) : '');
  return new ApiError({
    status,
    title: str(obj.title),
    detail,
    field: str(obj.field) || null,
    requestId: requestIdOf(headers, body),
    url,
    body,
  });
}

/**
 * What to show for an error: a heading, a sentence that says what happened
 * and what to do, the request id (when known), and whether the person must
 * sign in again.
 * @param {unknown} err
 * @returns {{heading: string, message: string, requestId: string|null, signIn: boolean}}
 */
export function describeError(err) {
  if (!(err instanceof ApiError)) {
    const msg = err instanceof Error ? err.message : String(err);
    return { heading: 'Something went wrong', message: msg, requestId: null, signIn: false };
  }
  const { status, detail, field, requestId } = err;
  const said = detail ? ` The API said: ${detail}` : '';
  const onField = field ? ` (field ${field})` : '';
  let heading;
  let message;
  let signIn = false;
  if (status === 0) {
    heading = 'The API could not be reached';
    message = `No answer from ${err.url || 'the API'}: the network failed, the API is down, or it refused this page's origin (CORS). Check that the platform is running, then try again.`;
  } else if (status === 401) {
    heading = 'Session expired: sign in again';
    message = 'Your sign-in is no longer accepted (it expired, was revoked, or is invalid). Sign in again to continue.';
    signIn = true;
  } else if (status === 403) {
    heading = 'Not allowed (403)';
    message = `Your account is not allowed to do this: it lacks the scope this action needs, or the resource belongs to another tenant.${said} Ask an administrator for the scope if you need it.`;
  } else if (status === 404) {
    heading = 'Not found (404)';
    message = `There is no such resource, or it is not yours.${said}`;
  } else if (status === 409) {
    heading = 'Conflict (409)';
    message = `The request conflicts with the current state (for example, the job has already finished, or the idempotency key was used for another request).${said}`;
  } else if (status === 429) {
    heading = 'Too many requests (429)';
    message = `The API is throttling your calls (rate limit or quota). Wait a little and try again.${said}`;
  } else if (status === 400 || status === 422) {
    heading = `The request was refused (${status})`;
    message = `Something in the request is not valid${onField}.${said} Correct it and try again.`;
  } else if (status === 413) {
    heading = 'Too large (413)';
    message = `The request is larger than the API accepts.${said}`;
  } else if (status >= 500) {
    heading = `The platform failed (${status})`;
    message = `The request did not complete on the server side. Try again in a moment; if it keeps failing, give the request id below to the operators.${said}`;
  } else {
    heading = `Unexpected answer (${status})`;
    message = `The API answered with status ${status}.${said}`;
  }
  return { heading, message, requestId: requestId ?? null, signIn };
}

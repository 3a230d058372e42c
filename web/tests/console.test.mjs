// Unit tests of the console's pure parts (no browser): node --test web/tests/
// The browser tests (tests/browser) drive the whole page against the platform.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { createApi } from '../js/api.js';
import { CognitoError, cognitoEndpoint, createCognito, describeCognitoError, jwtClaims } from '../js/cognito.js';
import { ConfigError, cpuChoices, validateConfig } from '../js/config.js';
import { ApiError, describeError, errorFromResponse, requestIdOf } from '../js/errors.js';
import { buildJobRequest } from '../js/jobs.js';
import { buildKeyRequest, grantableScopes } from '../js/keys.js';
import { checkServicePath } from '../js/services.js';
import { createSession } from '../js/session.js';

const headers = (obj = {}) => new Headers(obj);
const goodConfig = () => ({
  environment: 'local',
  apiBaseUrl: 'http://localhost:3000/',
  cognito: { region: 'us-east-1', endpoint: 'http://127.0.0.1:4566', clientId: 'abc' },
  jobTypes: {
    sample: { description: 'd', scope: 'jobs:write', overrides: { args: 2, env: ['GREETING'], cpu: { min: 256, max: 1024 }, memory: { min: 512, max: 2048 } } },
    bare: {},
  },
  services: { sample: { description: 's', scope: 'services:sample', methods: ['GET', 'POST', 'OPTIONS', 'HEAD'] } },
  usagePlans: { standard: { description: 'Default' } },
});

// ---------------------------------------------------------------- errors
test('request id: header first, then requestId, request_id, instance urn', () => {
  assert.equal(requestIdOf(headers({ 'x-request-id': 'h1' }), { requestId: 'b1' }), 'h1');
  assert.equal(requestIdOf(headers({ 'x-amzn-requestid': 'h2' }), null), 'h2');
  assert.equal(requestIdOf(headers(), { requestId: 'b1' }), 'b1');
  assert.equal(requestIdOf(headers(), { request_id: 'b2' }), 'b2');
  assert.equal(requestIdOf(headers(), { instance: 'urn:request:abc-123' }), 'abc-123');
  assert.equal(requestIdOf(headers(), { instance: 'urn:request:' }), null);
  assert.equal(requestIdOf(headers(), { instance: '/v1/jobs/1' }), null);
  assert.equal(requestIdOf(headers(), ['x']), null);
  assert.equal(requestIdOf(null, null), null);
  assert.equal(requestIdOf(headers({ 'x-request-id': '  ' }), 'text'), null);
});

test('errorFromResponse reads problem+json, API Gateway messages and non-JSON bodies', () => {
  const p = errorFromResponse(
    422,
    headers(),
    JSON.stringify({ type: 'https://portcullis.dev/problems/invalid-field', title: 'Unprocessable Entity', status: 422, detail: 'too many args', field: 'args', instance: 'urn:request:r1' }),
    'u',
  );
  assert.equal(p.status, 422);
  assert.equal(p.detail, 'too many args');
  assert.equal(p.field, 'args');
  assert.equal(p.requestId, 'r1');
  const gw = errorFromResponse(403, headers(), '{"message":"Forbidden"}');
  assert.equal(gw.detail, 'Forbidden');
  const html = errorFromResponse(502, headers(), '<html>bad gateway</html>');
  assert.equal(html.detail, '<html>bad gateway</html>');
  assert.equal(html.body, null);
  const empty = errorFromResponse(500, headers(), '');
  assert.equal(empty.detail, '');
});

test('describeError: every status the console must explain', () => {
  const d = (status, extra = {}) => describeError(new ApiError({ status, detail: 'said', requestId: 'rid', ...extra }));
  assert.match(d(401).heading, /Session expired: sign in again/);
  assert.equal(d(401).signIn, true);
  assert.match(d(403).heading, /Not allowed/);
  assert.match(d(403).message, /said/);
  assert.match(d(404).heading, /Not found/);
  assert.match(d(409).heading, /Conflict/);
  assert.match(d(429).heading, /Too many requests/);
  assert.match(d(500).heading, /platform failed \(500\)/);
  assert.match(d(503).message, /request id/);
  assert.equal(d(503).requestId, 'rid');
  assert.match(d(422, { field: 'args' }).message, /field args/);
  assert.match(d(413).heading, /Too large/);
  assert.match(d(0, { url: 'http://x' }).message, /CORS/);
  assert.match(d(302).heading, /Unexpected/);
  for (const s of [403, 404, 409, 429, 500]) assert.equal(d(s).signIn, false);
  const plain = describeError(new Error('boom'));
  assert.equal(plain.message, 'boom');
  assert.equal(describeError('text').message, 'text');
});

// ---------------------------------------------------------------- config
test('validateConfig normalises a good config', () => {
  const c = validateConfig(goodConfig());
  assert.equal(c.apiBaseUrl, 'http://localhost:3000');
  assert.equal(c.pollSeconds, 3);
  assert.deepEqual(c.jobTypes.sample.overrides.cpu, { min: 256, max: 1024 });
  assert.deepEqual(c.jobTypes.bare, { description: '', scope: 'jobs:write', overrides: { args: 0, env: [], cpu: null, memory: null } });
  assert.deepEqual(c.services.sample.methods, ['GET', 'POST']);
  const t = validateConfig({ ...goodConfig(), jobTypes: { a: { overrides: { args: true } } } });
  assert.equal(t.jobTypes.a.overrides.args, 32);
  const aws = validateConfig({ ...goodConfig(), cognito: { region: 'eu-west-1', clientId: 'x' } });
  assert.equal(aws.cognito.endpoint, '');
});

test('validateConfig refuses every malformed field, naming it', () => {
  const bad = [
    [null, /the document/],
    [[], /the document/],
    [{ ...goodConfig(), apiBaseUrl: 'localhost:3000' }, /apiBaseUrl/],
    [{ ...goodConfig(), apiBaseUrl: 3 }, /apiBaseUrl/],
    [{ ...goodConfig(), cognito: 'x' }, /cognito must/],
    [{ ...goodConfig(), cognito: { region: 'us-east-1' } }, /cognito.clientId/],
    [{ ...goodConfig(), cognito: { clientId: 'x', endpoint: 'ftp://x' } }, /cognito.endpoint/],
    [{ ...goodConfig(), cognito: { clientId: 'x', region: 'Mars' } }, /cognito.region/],
    [{ ...goodConfig(), pollSeconds: 0 }, /pollSeconds/],
    [{ ...goodConfig(), pollSeconds: 'soon' }, /pollSeconds/],
    [{ ...goodConfig(), jobTypes: [] }, /jobTypes must/],
    [{ ...goodConfig(), jobTypes: { a: 1 } }, /jobTypes.a must/],
    [{ ...goodConfig(), jobTypes: { a: { overrides: { cpu: { min: 2, max: 1 } } } } }, /jobTypes.a.overrides.cpu/],
    [{ ...goodConfig(), jobTypes: { a: { overrides: { memory: 5 } } } }, /jobTypes.a.overrides.memory/],
    [{ ...goodConfig(), services: 'x' }, /services must/],
    [{ ...goodConfig(), services: { s: [] } }, /services.s must/],
  ];
  for (const [raw, re] of bad) assert.throws(() => validateConfig(raw), (e) => e instanceof ConfigError && re.test(e.message), JSON.stringify(raw));
});

test('cpuChoices lists the Fargate sizes inside the range', () => {
  assert.deepEqual(cpuChoices({ min: 256, max: 1024 }), [256, 512, 1024]);
  assert.deepEqual(cpuChoices({ min: 300, max: 500 }), []);
  assert.deepEqual(cpuChoices(null), []);
});

// ---------------------------------------------------------------- jobs
test('buildJobRequest sends only what was filled in, within the overrides', () => {
  const jt = validateConfig(goodConfig()).jobTypes.sample;
  assert.deepEqual(buildJobRequest('sample', jt, {}), { type: 'sample' });
  assert.deepEqual(buildJobRequest('sample', jt, { argsText: ' --exit-code \n\n 0 ', env: { GREETING: 'hi' }, cpu: '512', memory: '1024' }), {
    type: 'sample',
    args: ['--exit-code', '0'],
    env: { GREETING: 'hi' },
    cpu: 512,
    memory: 1024,
  });
  assert.deepEqual(buildJobRequest('sample', jt, { env: { GREETING: '' } }), { type: 'sample' });
  assert.throws(() => buildJobRequest('sample', jt, { argsText: 'a\nb\nc' }), /at most 2 arguments/);
  assert.throws(() => buildJobRequest('sample', jt, { env: { PATH: '/x' } }), /does not allow the variable PATH/);
  assert.throws(() => buildJobRequest('sample', jt, { cpu: '128' }), /CPU must be from 256 to 1024/);
  assert.throws(() => buildJobRequest('sample', jt, { memory: '4096' }), /memory must/);
  assert.throws(() => buildJobRequest('sample', jt, { memory: '600.5' }), /memory must/);
  const bare = validateConfig(goodConfig()).jobTypes.bare;
  assert.throws(() => buildJobRequest('bare', bare, { argsText: 'x' }), /takes no arguments/);
  assert.throws(() => buildJobRequest('bare', bare, { cpu: '256' }), /CPU/);
});

// ---------------------------------------------------------------- keys
test('buildKeyRequest checks name, scopes and expiry', () => {
  const now = new Date('2030-01-01T00:00:00Z');
  assert.deepEqual(buildKeyRequest({ name: ' ci ', scopes: ['jobs:read'], plan: '', expiresLocal: '' }, now), { name: 'ci', scopes: ['jobs:read'] });
  const withAll = buildKeyRequest({ name: 'ci', scopes: ['jobs:read'], plan: 'standard', expiresLocal: '2031-01-01T00:00' }, now);
  assert.equal(withAll.plan, 'standard');
  assert.match(withAll.expires_at, /^2031-01-01T|^2030-12-31T/);
  assert.throws(() => buildKeyRequest({ name: '  ', scopes: ['jobs:read'] }, now), /name/);
  assert.throws(() => buildKeyRequest({ name: 'x'.repeat(101), scopes: ['jobs:read'] }, now), /longer than 100/);
  assert.throws(() => buildKeyRequest({ name: 'a', scopes: [] }, now), /at least one scope/);
  assert.throws(() => buildKeyRequest({ name: 'a', scopes: ['jobs:read'], expiresLocal: 'soon' }, now), /not a valid date/);
  assert.throws(() => buildKeyRequest({ name: 'a', scopes: ['jobs:read'], expiresLocal: '2020-01-01T00:00' }, now), /future/);
  assert.deepEqual(grantableScopes(validateConfig(goodConfig())), ['jobs:read', 'jobs:write', 'keys:admin', 'services:sample']);
});

// ---------------------------------------------------------------- services
test('checkServicePath refuses dot segments, encoded slashes and spaces', () => {
  assert.equal(checkServicePath('/echo?a=1'), 'echo?a=1');
  assert.equal(checkServicePath('items/42'), 'items/42');
  assert.equal(checkServicePath('echo?next=../x'), 'echo?next=../x');
  for (const bad of ['', '  ', '../keys', 'a/./b', 'a/..', 'a%2Fb', 'a%5cb', 'a b']) assert.throws(() => checkServicePath(bad), Error, bad);
});

// ---------------------------------------------------------------- api client
function fakeFetch(answers) {
  const calls = [];
  const fn = async (url, init) => {
    calls.push({ url, init });
    const next = answers.shift();
    if (next instanceof Error) throw next;
    return new Response(next.body ?? '', { status: next.status, headers: next.headers ?? {} });
  };
  fn.calls = calls;
  return fn;
}

test('api: bearer token, JSON body, idempotency key, parsed answer', async () => {
  const f = fakeFetch([{ status: 202, body: '{"id":"j1","status":"starting"}' }]);
  const api = createApi({ baseUrl: 'http://api/', token: async () => 'T', refresh: async () => false, fetchImpl: f });
  const job = await api.submitJob({ type: 'sample' }, 'k1');
  assert.equal(job.id, 'j1');
  assert.equal(f.calls[0].url, 'http://api/v1/jobs');
  const h = f.calls[0].init.headers;
  assert.equal(h.get('authorization'), 'Bearer T');
  assert.equal(h.get('idempotency-key'), 'k1');
  assert.equal(h.get('content-type'), 'application/json');
  assert.equal(f.calls[0].init.body, '{"type":"sample"}');
});

test('api: a 401 is retried once after a refresh, then reported', async () => {
  let token = 'old';
  const f = fakeFetch([{ status: 401, body: '{"message":"Unauthorized"}' }, { status: 200, body: '{"tenant":"t"}' }]);
  const api = createApi({ baseUrl: 'http://api', token: async () => token, refresh: async () => ((token = 'new'), true), fetchImpl: f });
  assert.deepEqual(await api.me(), { tenant: 't' });
  assert.equal(f.calls[1].init.headers.get('authorization'), 'Bearer new');

  const g = fakeFetch([{ status: 401, body: '{"message":"Unauthorized"}' }]);
  const api2 = createApi({ baseUrl: 'http://api', token: async () => 'x', refresh: async () => false, fetchImpl: g });
  await assert.rejects(api2.me(), (e) => e instanceof ApiError && e.status === 401);
  assert.equal(g.calls.length, 1);
});

test('api: problem+json errors, network failures, paths and queries', async () => {
  const f = fakeFetch([
    { status: 404, body: '{"title":"Not Found","status":404,"detail":"no job x","instance":"urn:request:r9"}', headers: { 'content-type': 'application/problem+json' } },
    new TypeError('Failed to fetch'),
    { status: 200, body: 'not json' },
    { status: 200, body: '{"items":[],"next_cursor":null}' },
  ]);
  const api = createApi({ baseUrl: 'http://api', token: async () => null, refresh: async () => false, fetchImpl: f });
  await assert.rejects(api.getJob('a/b'), (e) => e.status === 404 && e.requestId === 'r9' && e.detail === 'no job x');
  assert.equal(f.calls[0].url, 'http://api/v1/jobs/a%2Fb');
  assert.equal(f.calls[0].init.headers.has('authorization'), false);
  await assert.rejects(api.me(), (e) => e.status === 0 && /Failed to fetch/.test(e.detail));
  await assert.rejects(api.me(), /not JSON/);
  await api.listJobs({ limit: 20, status: '', cursor: 'c=1' });
  assert.equal(f.calls[3].url, 'http://api/v1/jobs?limit=20&cursor=c%3D1');
});

test('api: a service call answers the raw response whatever its status', async () => {
  const f = fakeFetch([{ status: 418, body: 'teapot' }]);
  const api = createApi({ baseUrl: 'http://api', token: async () => 't', refresh: async () => false, fetchImpl: f });
  const resp = await api.callService('sample', '/echo?x=1', 'POST', '{"a":1}', 'application/json');
  assert.equal(resp.status, 418);
  assert.equal(f.calls[0].url, 'http://api/v1/services/sample/echo?x=1');
  assert.equal(f.calls[0].init.headers.get('content-type'), 'application/json');
  assert.equal(f.calls[0].init.body, '{"a":1}');
});

// ---------------------------------------------------------------- cognito
test('cognito: USER_PASSWORD_AUTH request shape and tokens', async () => {
  const f = fakeFetch([{ status: 200, body: JSON.stringify({ AuthenticationResult: { AccessToken: 'A', IdToken: 'I', RefreshToken: 'R', ExpiresIn: 60 } }) }]);
  const c = createCognito({ endpoint: 'http://moto:4566', clientId: 'cid' }, f);
  const out = await c.signIn('demo', 'pw');
  assert.equal(out.tokens.accessToken, 'A');
  assert.equal(out.tokens.refreshToken, 'R');
  assert.equal(f.calls[0].url, 'http://moto:4566/');
  assert.equal(f.calls[0].init.headers['x-amz-target'], 'AWSCognitoIdentityProviderService.InitiateAuth');
  assert.equal(f.calls[0].init.headers['content-type'], 'application/x-amz-json-1.1');
  assert.deepEqual(JSON.parse(f.calls[0].init.body), { AuthFlow: 'USER_PASSWORD_AUTH', ClientId: 'cid', AuthParameters: { USERNAME: 'demo', PASSWORD: 'pw' } });
});

test('cognito: challenges, refresh keeps the refresh token, errors carry their code', async () => {
  const f = fakeFetch([
    { status: 200, body: JSON.stringify({ ChallengeName: 'NEW_PASSWORD_REQUIRED', Session: 'S', ChallengeParameters: { USER_ID_FOR_SRP: 'u-1' } }) },
    { status: 200, body: JSON.stringify({ AuthenticationResult: { AccessToken: 'A2', ExpiresIn: 60 } }) },
    { status: 200, body: JSON.stringify({ AuthenticationResult: { AccessToken: 'A3', ExpiresIn: 60 } }) },
    { status: 400, body: JSON.stringify({ __type: 'NotAuthorizedException', message: 'Incorrect username or password.' }) },
    { status: 400, body: '', headers: { 'x-amzn-errortype': 'UserNotFoundException:http://internal' } },
    { status: 200, body: '{}' },
  ]);
  const c = createCognito({ region: 'eu-west-1', clientId: 'cid' }, f);
  assert.equal(c.endpoint, 'https://cognito-idp.eu-west-1.amazonaws.com/');
  const step = await c.signIn('demo', 'pw');
  assert.equal(step.challenge, 'NEW_PASSWORD_REQUIRED');
  const done = await c.respond(step, { NEW_PASSWORD: 'N' });
  assert.equal(done.tokens.accessToken, 'A2');
  assert.deepEqual(JSON.parse(f.calls[1].init.body).ChallengeResponses, { USERNAME: 'u-1', NEW_PASSWORD: 'N' });
  const refreshed = await c.refresh('R');
  assert.equal(refreshed.refreshToken, 'R');
  await assert.rejects(c.signIn('demo', 'bad'), (e) => e instanceof CognitoError && e.code === 'NotAuthorizedException');
  await assert.rejects(c.signIn('nobody', 'bad'), (e) => e.code === 'UserNotFoundException');
  await assert.rejects(c.signIn('demo', 'pw'), /neither tokens nor a challenge/);
  assert.throws(() => createCognito({ region: 'x' }), /clientId/);
  assert.throws(() => cognitoEndpoint({}), /region or cognito.endpoint/);
});

test('describeCognitoError: one message for unknown user and wrong password', () => {
  const m = (code, msg = '') => describeCognitoError(new CognitoError(code, msg, 400));
  assert.equal(m('NotAuthorizedException', 'Incorrect username or password.'), m('UserNotFoundException', 'User does not exist.'));
  assert.match(m('NotAuthorizedException', 'User is disabled.'), /disabled/);
  assert.match(m('InvalidParameterException', 'USER_PASSWORD_AUTH flow not enabled for this client'), /ALLOW_USER_PASSWORD_AUTH/);
  assert.match(m('TooManyRequestsException'), /Wait/);
  assert.match(m('Weird', 'x'), /Weird/);
  assert.match(describeCognitoError(new Error('net down')), /could not be reached/);
});

test('jwtClaims reads a JWT payload (UTF-8 too) and refuses junk', () => {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  assert.deepEqual(jwtClaims(`h.${b64({ sub: 'é', exp: 5 })}.s`), { sub: 'é', exp: 5 });
  assert.equal(jwtClaims('nope'), null);
  assert.equal(jwtClaims('a.!!!.c'), null);
  assert.equal(jwtClaims(undefined), null);
});

// ---------------------------------------------------------------- session
function memoryStorage() {
  const m = new Map();
  return { getItem: (k) => (m.has(k) ? m.get(k) : null), setItem: (k, v) => m.set(k, String(v)), removeItem: (k) => m.delete(k) };
}

test('session: renews a token near expiry, once for concurrent callers, and expires on refusal', async () => {
  let refreshes = 0;
  const cognito = {
    refresh: async (r) => {
      refreshes += 1;
      if (r === 'bad') throw new CognitoError('NotAuthorizedException', 'Refresh Token has been revoked', 400);
      return { accessToken: `A${refreshes}`, refreshToken: r, expiresAt: Date.now() + 3_600_000 };
    },
    revoke: async () => {},
  };
  const storage = memoryStorage();
  const s = createSession(cognito, storage);
  assert.equal(await s.token(), null);
  s.start({ accessToken: 'A0', refreshToken: 'R', expiresAt: Date.now() + 10_000 }, 'demo');
  const [a, b] = await Promise.all([s.token(), s.token()]);
  assert.equal(a, 'A1');
  assert.equal(b, 'A1');
  assert.equal(refreshes, 1);
  // A second session object reads what the first stored (a page reload).
  assert.equal(createSession(cognito, storage).current.accessToken, 'A1');
  s.start({ accessToken: 'X', refreshToken: 'bad', expiresAt: Date.now() + 3_600_000 }, 'demo');
  assert.equal(await s.renew(), false);
  assert.equal(await s.signOut(), true);
  assert.equal(s.current, null);
  storage.setItem('portcullis.session', '{broken');
  assert.equal(createSession(cognito, storage).current, null);
});

test('session: sign-out clears locally even when revocation fails', async () => {
  const s = createSession({ refresh: async () => ({}), revoke: async () => { throw new Error('refused'); } }, memoryStorage());
  s.start({ accessToken: 'A', refreshToken: 'R', expiresAt: Date.now() + 3_600_000 }, 'demo');
  assert.equal(await s.signOut(), false);
  assert.equal(s.current, null);
});

// config.json: what the console needs to know about its deployment. Written
// at start by scripts/web-serve.py (locally) or by Terraform (modules/web),
// never hard-coded. Shape (docs/web.md):
//
//   { "environment": "local",
//     "apiBaseUrl": "http://localhost:3000",
//     "cognito": { "region": "us-east-1", "endpoint": "http://127.0.0.1:4566", "clientId": "..." },
//     "pollSeconds": 3,
//     "jobTypes":   { "<type>": { "description", "scope", "overrides": { "args", "env", "cpu", "memory" } } },
//     "services":   { "<name>": { "description", "scope", "methods" } },
//     "usagePlans": { "<plan>": { "description" } } }

const FARGATE_CPU = [256, 512, 1024, 2048, 4096, 8192, 16384];

/** A config problem: says which field and what to do. */
export class ConfigError extends Error {}

const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Check and normalise a parsed config.json. Throws ConfigError naming the field.
 * @param {unknown} raw
 */
export function validateConfig(raw) {
  const fail = (field, what) => {
    throw new ConfigError(`config.json: ${field} ${what}. Regenerate it (scripts/web-serve.py locally, terraform apply in AWS).`);
  };
  if (!isObj(raw)) fail('the document', 'must be a JSON object');
  const apiBaseUrl = raw.apiBaseUrl;
  if (typeof apiBaseUrl !== 'string' || !/^https?:\/\/[^\s/]+/.test(apiBaseUrl)) fail('apiBaseUrl', 'must be an http(s) URL');
  const c = raw.cognito;
  if (!isObj(c)) fail('cognito', 'must be an object');
  if (typeof c.clientId !== 'string' || !c.clientId) fail('cognito.clientId', 'must be a non-empty string');
  if (c.endpoint !== undefined && c.endpoint !== null && (typeof c.endpoint !== 'string' || !/^https?:\/\//.test(c.endpoint))) {
    fail('cognito.endpoint', 'must be an http(s) URL when set');
  }
  if (!c.endpoint && (typeof c.region !== 'string' || !/^[a-z]{2}(-[a-z]+)+-\d$/.test(c.region))) {
    fail('cognito.region', 'must be an AWS region when cognito.endpoint is not set');
  }
  const poll = raw.pollSeconds === undefined ? 3 : Number(raw.pollSeconds);
  if (!Number.isFinite(poll) || poll < 1 || poll > 300) fail('pollSeconds', 'must be a number from 1 to 300');

  const jobTypes = {};
  if (raw.jobTypes !== undefined && !isObj(raw.jobTypes)) fail('jobTypes', 'must be an object');
  for (const [name, jt] of Object.entries(raw.jobTypes || {})) {
    if (!isObj(jt)) fail(`jobTypes.${name}`, 'must be an object');
    const o = isObj(jt.overrides) ? jt.overrides : {};
    const args = o.args === true ? 32 : typeof o.args === 'number' && o.args > 0 ? Math.floor(o.args) : 0;
    const range = (r, field) => {
      if (r === undefined || r === null) return null;
      if (!isObj(r) || !Number.isFinite(r.min) || !Number.isFinite(r.max) || r.min > r.max) {
        fail(`jobTypes.${name}.overrides.${field}`, 'must be {min, max} with min <= max');
      }
      return { min: r.min, max: r.max };
    };
    const env = Array.isArray(o.env) ? o.env.filter((e) => typeof e === 'string') : [];
    jobTypes[name] = {
      description: typeof jt.description === 'string' ? jt.description : '',
      scope: typeof jt.scope === 'string' && jt.scope ? jt.scope : 'jobs:write',
      overrides: { args, env, cpu: range(o.cpu, 'cpu'), memory: range(o.memory, 'memory') },
    };
  }

  const services = {};
  if (raw.services !== undefined && !isObj(raw.services)) fail('services', 'must be an object');
  for (const [name, s] of Object.entries(raw.services || {})) {
    if (!isObj(s)) fail(`services.${name}`, 'must be an object');
    const methods = Array.isArray(s.methods) && s.methods.length ? s.methods.map(String) : ['GET'];
    services[name] = {
      description: typeof s.description === 'string' ? s.description : '',
      scope: typeof s.scope === 'string' && s.scope ? s.scope : `services:${name}`,
      methods: methods.filter((m) => m !== 'OPTIONS' && m !== 'HEAD'),
    };
  }

  const usagePlans = {};
  for (const [name, p] of Object.entries(isObj(raw.usagePlans) ? raw.usagePlans : {})) {
    usagePlans[name] = { description: isObj(p) && typeof p.description === 'string' ? p.description : '' };
  }

  return {
    environment: typeof raw.environment === 'string' ? raw.environment : '',
    apiBaseUrl: apiBaseUrl.replace(/\/+$/, ''),
    cognito: { region: c.region || '', endpoint: c.endpoint || '', clientId: c.clientId },
    pollSeconds: poll,
    jobTypes,
    services,
    usagePlans,
  };
}

/** The Fargate CPU sizes inside a job type's cpu range. */
export function cpuChoices(range) {
  if (!range) return [];
  return FARGATE_CPU.filter((c) => c >= range.min && c <= range.max);
}

/** Fetch and check config.json next to the page. */
export async function loadConfig(fetchImpl = (...a) => fetch(...a)) {
  let resp;
  try {
    resp = await fetchImpl('config.json', { cache: 'no-store' });
  } catch (e) {
    throw new ConfigError(`config.json could not be fetched (${e instanceof Error ? e.message : e}).`);
  }
  if (!resp.ok) {
    throw new ConfigError(
      `config.json answered ${resp.status}: the console is served without its configuration. Start it with scripts/web-serve.py (locally) or apply terraform/ (AWS).`,
    );
  }
  let raw;
  try {
    raw = await resp.json();
  } catch {
    throw new ConfigError('config.json is not valid JSON. Regenerate it (scripts/web-serve.py or terraform apply).');
  }
  return validateConfig(raw);
}

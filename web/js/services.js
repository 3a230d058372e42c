// Private services: call /v1/services/<name>/<path> through the proxy and
// show the answer.

import { $, busy, clearNotice, fillDetails, h, renderInfo, show } from './dom.js';
import { errorFromResponse } from './errors.js';

const WITH_BODY = new Set(['POST', 'PUT', 'PATCH']);

/**
 * Check the path typed under a service: relative, and without '.' or '..'
 * segments (the browser would resolve them before sending, and the proxy
 * refuses them). Returns the path; throws Error with a sentence.
 */
export function checkServicePath(path) {
  const p = String(path).trim().replace(/^\/+/, '');
  if (!p) throw new Error('Enter a path under the service, for example echo.');
  if (/\s/.test(p)) throw new Error('The path may not contain spaces; encode them as %20.');
  const pathPart = p.split(/[?#]/)[0];
  for (const seg of pathPart.split('/')) {
    if (seg === '.' || seg === '..') throw new Error('The path may not contain "." or ".." segments.');
    if (/%2f|%5c/i.test(seg)) throw new Error('The path may not contain encoded slashes.');
  }
  return p;
}

export function initServices(ctx) {
  const { config, api } = ctx;
  const names = Object.keys(config.services);
  const form = $('service-form');
  const errorRegion = $('service-error');
  const sel = $('service-name');
  const methodSel = $('service-method');

  sel.replaceChildren(...names.map((n) => h('option', { value: n }, n)));
  if (names.length === 0) {
    renderInfo(errorRegion, 'No private services are registered (platform.yaml has no services).');
    for (const c of form.querySelectorAll('button, select, textarea, input')) c.disabled = true;
  }

  function renderService() {
    const s = config.services[sel.value];
    if (!s) return;
    const held = ctx.scopes().has(s.scope);
    $('service-desc').textContent = `${s.description} Needs the ${s.scope} scope: ${held ? 'you hold it' : 'you do not hold it (the call will be refused with 403)'}.`;
    const current = methodSel.value;
    methodSel.replaceChildren(...s.methods.map((m) => h('option', { value: m }, m)));
    if (s.methods.includes(current)) methodSel.value = current;
    renderMethod();
  }
  function renderMethod() {
    show($('service-body-field'), WITH_BODY.has(methodSel.value));
  }
  sel.addEventListener('change', renderService);
  methodSel.addEventListener('change', renderMethod);

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearNotice(errorRegion);
    let path;
    try {
      path = checkServicePath($('service-path').value);
    } catch (e) {
      renderInfo(errorRegion, e.message);
      errorRegion.classList.add('error');
      $('service-path').focus();
      return;
    }
    const method = methodSel.value;
    let body;
    let contentType;
    if (WITH_BODY.has(method)) {
      const text = $('service-body').value;
      if (text.trim()) {
        try {
          JSON.parse(text);
        } catch (e) {
          renderInfo(errorRegion, `The body is not valid JSON: ${e.message}`);
          errorRegion.classList.add('error');
          $('service-body').focus();
          return;
        }
        body = text;
        contentType = 'application/json';
      }
    }
    const done = busy(form);
    try {
      const resp = await api.callService(sel.value, path, method, body, contentType);
      const text = await resp.text();
      const type = resp.headers.get('content-type') || '';
      let shown = text;
      if (/json/i.test(type)) {
        try {
          shown = JSON.stringify(JSON.parse(text), null, 2);
        } catch {
          shown = text;
        }
      }
      const err = resp.ok ? null : errorFromResponse(resp.status, resp.headers, text, resp.url);
      fillDetails($('service-answer-meta'), [
        ['Status', `${resp.status} ${resp.statusText || ''}`.trim()],
        ['Content type', type],
        ['Request id', err?.requestId || resp.headers.get('x-request-id') || ''],
      ]);
      $('service-answer-body').textContent = shown || '(empty body)';
      show($('service-answer'));
      if (err) ctx.fail(errorRegion, err);
      else $('service-answer-title').focus();
    } catch (e) {
      show($('service-answer'), false);
      ctx.fail(errorRegion, e);
    } finally {
      done();
    }
  });

  return {
    show() {
      renderService();
    },
    hide() {},
  };
}

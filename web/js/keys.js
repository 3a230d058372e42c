// API keys (keys:admin): list the tenant's keys, create one (shown once, with
// a copy button), revoke one.

import { $, busy, clearNotice, h, renderInfo, show, timeEl } from './dom.js';

const BASE_SCOPES = ['jobs:read', 'jobs:write', 'keys:admin'];

/** The scopes a key may be given: the fixed ones and one per registered service. */
export function grantableScopes(config) {
  return [...BASE_SCOPES, ...Object.keys(config.services).map((s) => `services:${s}`)];
}

/**
 * The POST /v1/keys body. `expiresLocal` is a datetime-local value (the
 * viewer's time); `now` is for tests. Throws Error with a sentence.
 */
export function buildKeyRequest({ name, scopes, plan, expiresLocal }, now = new Date()) {
  const trimmed = String(name || '').trim();
  if (!trimmed) throw new Error('Give the key a name (1 to 100 characters).');
  if (trimmed.length > 100) throw new Error('The name is longer than 100 characters.');
  if (!scopes || scopes.length === 0) throw new Error('Choose at least one scope.');
  const req = { name: trimmed, scopes: [...scopes] };
  if (plan) req.plan = plan;
  if (expiresLocal) {
    const d = new Date(expiresLocal);
    if (Number.isNaN(d.getTime())) throw new Error('The expiry date is not a valid date and time.');
    if (d.getTime() <= now.getTime()) throw new Error('The expiry must be in the future.');
    req.expires_at = d.toISOString();
  }
  return req;
}

export function initKeys(ctx) {
  const { config, api } = ctx;
  const form = $('key-form');
  const errorRegion = $('keys-error');
  const tbody = $('keys-table').querySelector('tbody');
  const newKey = $('new-key');
  let items = [];
  let cursor = null;

  $('key-scopes').replaceChildren(
    ...grantableScopes(config).map((s, i) =>
      h('label', { class: 'check', for: `key-scope-${i}` }, h('input', { type: 'checkbox', id: `key-scope-${i}`, value: s, name: 'scopes' }), h('code', {}, s)),
    ),
  );
  const plans = Object.keys(config.usagePlans);
  $('key-plan').replaceChildren(
    h('option', { value: '' }, 'default plan'),
    ...plans.map((p) => h('option', { value: p }, config.usagePlans[p].description ? `${p}: ${config.usagePlans[p].description}` : p)),
  );

  function render() {
    const rows = items.map((k) =>
      h(
        'tr',
        { 'data-key-id': k.id },
        h('td', {}, k.name),
        h('td', { class: 'mono' }, h('code', {}, k.prefix)),
        h('td', {}, (k.scopes || []).join(', ')),
        h('td', {}, k.plan ?? ''),
        h('td', {}, h('span', { class: `status status-${k.status}` }, k.status)),
        h('td', {}, timeEl(k.created_at)),
        h('td', {}, k.expires_at ? timeEl(k.expires_at) : 'never'),
        h('td', {}, k.last_used_at ? timeEl(k.last_used_at) : 'never'),
        h(
          'td',
          {},
          k.status === 'active'
            ? h('button', { type: 'button', class: 'secondary', 'aria-label': `Revoke key ${k.name} (${k.prefix})`, onclick: () => revoke(k) }, 'Revoke')
            : '',
        ),
      ),
    );
    if (rows.length === 0) rows.push(h('tr', {}, h('td', { colspan: '9' }, 'No keys yet.')));
    tbody.replaceChildren(...rows);
    show($('keys-more'), Boolean(cursor));
  }

  async function load() {
    try {
      const page = await api.listKeys({ limit: 50 });
      items = page.items || [];
      cursor = page.next_cursor || null;
      render();
    } catch (e) {
      ctx.fail(errorRegion, e);
    }
  }

  $('keys-more').addEventListener('click', async () => {
    if (!cursor) return;
    try {
      const page = await api.listKeys({ limit: 50, cursor });
      items = items.concat(page.items || []);
      cursor = page.next_cursor || null;
      render();
    } catch (e) {
      ctx.fail(errorRegion, e);
    }
  });

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearNotice(errorRegion);
    let req;
    try {
      req = buildKeyRequest({
        name: $('key-name').value,
        scopes: [...form.querySelectorAll('input[name=scopes]:checked')].map((c) => c.value),
        plan: $('key-plan').value,
        expiresLocal: $('key-expires').value,
      });
    } catch (e) {
      renderInfo(errorRegion, e.message);
      errorRegion.classList.add('error');
      return;
    }
    const done = busy(form);
    try {
      const created = await api.createKey(req);
      form.reset();
      $('new-key-value').value = created.key;
      $('new-key-copied').textContent = '';
      show(newKey);
      newKey.focus();
      await load();
    } catch (e) {
      ctx.fail(errorRegion, e);
    } finally {
      done();
    }
  });

  $('new-key-copy').addEventListener('click', async () => {
    const input = $('new-key-value');
    let ok = false;
    try {
      await navigator.clipboard.writeText(input.value);
      ok = true;
    } catch {
      // No clipboard permission (or not a secure context): select it for Ctrl+C.
      input.focus();
      input.select();
    }
    $('new-key-copied').textContent = ok ? 'Copied to the clipboard.' : 'Could not copy automatically: the key is selected, press Ctrl+C (Cmd+C).';
  });

  $('new-key-done').addEventListener('click', () => {
    $('new-key-value').value = '';
    show(newKey, false);
    $('keys-list-title').setAttribute('tabindex', '-1');
    $('keys-list-title').focus();
  });

  async function revoke(k) {
    // eslint-disable-next-line no-alert
    if (!window.confirm(`Revoke the key "${k.name}" (${k.prefix})? Calls with it stop working at once.`)) return;
    clearNotice(errorRegion);
    try {
      const out = await api.revokeKey(k.id);
      ctx.announce(`Key ${k.name} revoked.`);
      const flush = out?.authorizer_cache?.status === 'failed' ? ' The gateway cache flush failed; the key may work for up to a minute more.' : '';
      renderInfo(errorRegion, `Key "${k.name}" (${k.prefix}) is revoked.${flush}`);
      errorRegion.classList.remove('error');
    } catch (e) {
      ctx.fail(errorRegion, e);
    }
    await load();
  }

  return {
    show() {
      const allowed = ctx.scopes().has('keys:admin');
      show($('keys-forbidden'), !allowed);
      show($('keys-body'), allowed);
      if (allowed) load();
    },
    hide() {
      // The key is shown once: leaving the view forgets it.
      $('new-key-value').value = '';
      show(newKey, false);
    },
  };
}

// Jobs: submit a job of a registered type (with the overrides its
// platform.yaml entry allows), list your jobs with live status, open one with
// its events, cancel it.

import { cpuChoices } from './config.js';
import { $, busy, clearNotice, fillDetails, h, renderInfo, show, timeEl } from './dom.js';

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled', 'timed_out']);
const PAGE = 20;

export const isTerminal = (status) => TERMINAL.has(status);

/**
 * The POST /v1/jobs body of the form's values: only what was filled in.
 * Throws Error with a sentence for the person when a value is not allowed.
 */
export function buildJobRequest(type, jobType, { argsText = '', env = {}, cpu = '', memory = '' }) {
  const req = { type };
  const o = jobType.overrides;
  const args = argsText.split('\n').map((a) => a.trim()).filter((a) => a.length > 0);
  if (args.length > 0) {
    if (o.args === 0) throw new Error(`job type ${type} takes no arguments`);
    if (args.length > o.args) throw new Error(`job type ${type} takes at most ${o.args} arguments (you gave ${args.length})`);
    req.args = args;
  }
  const envSet = Object.entries(env).filter(([, v]) => v !== '');
  if (envSet.length > 0) {
    for (const [k] of envSet) if (!o.env.includes(k)) throw new Error(`job type ${type} does not allow the variable ${k}`);
    req.env = Object.fromEntries(envSet);
  }
  if (cpu !== '') {
    const n = Number(cpu);
    if (!o.cpu || !Number.isInteger(n) || n < o.cpu.min || n > o.cpu.max) throw new Error(`CPU must be from ${o.cpu?.min} to ${o.cpu?.max}`);
    req.cpu = n;
  }
  if (memory !== '') {
    const n = Number(memory);
    if (!o.memory || !Number.isInteger(n) || n < o.memory.min || n > o.memory.max) {
      throw new Error(`memory must be a whole number of MiB from ${o.memory?.min} to ${o.memory?.max}`);
    }
    req.memory = n;
  }
  return req;
}

const short = (id) => String(id).slice(0, 8);

export function initJobs(ctx) {
  const { config, api } = ctx;
  const types = Object.keys(config.jobTypes);
  const form = $('submit-form');
  const typeSel = $('job-type');
  const result = $('submit-result');
  const listError = $('jobs-error');
  const tbody = $('jobs-table').querySelector('tbody');
  const detail = $('job-detail');
  const detailError = $('job-detail-error');

  let idempotencyKey = crypto.randomUUID();
  let firstPage = [];
  let older = [];
  let nextCursor = null;
  let olderCursor = null;
  let openId = null;
  let openJob = null;
  let timer = null;
  let polling = false;
  const seen = new Map(); // id -> last status, to announce changes

  // ------------------------------------------------------------ the form
  typeSel.replaceChildren(...types.map((t) => h('option', { value: t }, t)));
  if (types.length === 0) {
    renderInfo(result, 'No job types are registered (platform.yaml has no jobs).');
    for (const c of form.querySelectorAll('button, select, textarea, input')) c.disabled = true;
  }

  function renderTypeFields() {
    const jt = config.jobTypes[typeSel.value];
    if (!jt) return;
    const o = jt.overrides;
    $('job-type-desc').textContent = `${jt.description} Needs the ${jt.scope} scope.`;
    show($('job-args-field'), o.args > 0);
    $('job-args-hint').textContent = `Up to ${o.args} arguments.`;
    $('job-args').value = '';
    show($('job-env-field'), o.env.length > 0);
    $('job-env').replaceChildren(
      ...o.env.map((name, i) =>
        h('div', { class: 'field' }, h('label', { for: `job-env-${i}` }, name), h('input', { id: `job-env-${i}`, 'data-env': name, autocomplete: 'off', spellcheck: 'false' })),
      ),
    );
    show($('job-cpu-field'), Boolean(o.cpu));
    $('job-cpu').replaceChildren(h('option', { value: '' }, 'default'), ...cpuChoices(o.cpu).map((c) => h('option', { value: String(c) }, String(c))));
    show($('job-memory-field'), Boolean(o.memory));
    const mem = $('job-memory');
    mem.value = '';
    if (o.memory) {
      mem.min = String(o.memory.min);
      mem.max = String(o.memory.max);
      $('job-memory-hint').textContent = `From ${o.memory.min} to ${o.memory.max} MiB; empty for the default.`;
    }
  }
  typeSel.addEventListener('change', renderTypeFields);
  renderTypeFields();

  // A new idempotency key whenever the request changes: resubmitting the
  // same request (after a lost answer) reuses it and cannot start twice.
  form.addEventListener('input', () => {
    idempotencyKey = crypto.randomUUID();
  });

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearNotice(result);
    const type = typeSel.value;
    const env = {};
    for (const input of $('job-env').querySelectorAll('input[data-env]')) env[input.dataset.env] = input.value;
    let request;
    try {
      request = buildJobRequest(type, config.jobTypes[type], {
        argsText: $('job-args').value,
        env,
        cpu: $('job-cpu').value,
        memory: $('job-memory').value,
      });
    } catch (e) {
      renderInfo(result, e.message);
      result.classList.add('error');
      return;
    }
    const done = busy(form);
    try {
      const job = await api.submitJob(request, idempotencyKey);
      idempotencyKey = crypto.randomUUID();
      renderInfo(result, 'Submitted job ', h('code', {}, job.id), ` (${job.status}).`);
      result.classList.add('success');
      seen.set(job.id, job.status);
      await refreshList();
      await openJobDetail(job.id, false);
    } catch (e) {
      result.classList.remove('success');
      ctx.fail(result, e);
    } finally {
      done();
    }
  });

  // ------------------------------------------------------------ the list
  function statusEl(job) {
    const text = job.cancel_requested && !isTerminal(job.status) ? `${job.status} (cancel requested)` : job.status;
    return h('span', { class: `status status-${job.status}` }, text);
  }

  function renderList() {
    const ids = new Set();
    const rows = [];
    for (const job of [...firstPage, ...older]) {
      if (ids.has(job.id)) continue;
      ids.add(job.id);
      const cancellable = !isTerminal(job.status) && !job.cancel_requested;
      rows.push(
        h(
          'tr',
          { 'data-job-id': job.id },
          h('td', { class: 'mono' }, h('button', { type: 'button', class: 'secondary link', 'aria-label': `Open job ${job.id}`, onclick: () => openJobDetail(job.id, true) }, short(job.id))),
          h('td', {}, job.type),
          h('td', {}, statusEl(job)),
          h('td', {}, timeEl(job.created_at)),
          h('td', {}, timeEl(job.updated_at)),
          h(
            'td',
            {},
            cancellable
              ? h('button', { type: 'button', class: 'secondary', 'aria-label': `Cancel job ${job.id}`, onclick: () => cancel(job.id) }, 'Cancel')
              : '',
          ),
        ),
      );
    }
    if (rows.length === 0) rows.push(h('tr', {}, h('td', { colspan: '6' }, 'No jobs yet.')));
    tbody.replaceChildren(...rows);
    show($('jobs-more'), Boolean(older.length > 0 ? olderCursor : nextCursor));
  }

  function noteChanges(jobs) {
    for (const job of jobs) {
      const before = seen.get(job.id);
      if (before && before !== job.status) ctx.announce(`Job ${short(job.id)} is now ${job.status}.`);
      seen.set(job.id, job.status);
    }
  }

  async function refreshList() {
    try {
      const page = await api.listJobs({ limit: PAGE, status: $('jobs-status').value });
      firstPage = page.items || [];
      nextCursor = page.next_cursor || null;
      noteChanges(firstPage);
      clearNotice(listError);
      $('jobs-updated').textContent = `Updated ${new Date().toLocaleTimeString()}.`;
      renderList();
      return true;
    } catch (e) {
      ctx.fail(listError, e);
      return false;
    }
  }

  $('jobs-more').addEventListener('click', async () => {
    const cursor = older.length > 0 ? olderCursor : nextCursor;
    if (!cursor) return;
    try {
      const page = await api.listJobs({ limit: PAGE, cursor, status: $('jobs-status').value });
      older = older.concat(page.items || []);
      olderCursor = page.next_cursor || null;
      renderList();
    } catch (e) {
      ctx.fail(listError, e);
    }
  });

  $('jobs-status').addEventListener('change', () => {
    older = [];
    olderCursor = null;
    refreshList();
  });

  // ------------------------------------------------------------ one job
  function renderDetail(job, events) {
    openJob = job;
    $('job-detail-title').textContent = `Job ${job.id}`;
    fillDetails($('job-detail-fields'), [
      ['Id', h('code', {}, job.id)],
      ['Type', job.type],
      ['Status', statusEl(job)],
      ['Parameters', h('code', {}, JSON.stringify(job.params ?? {}))],
      ['Attempts', String(job.attempts ?? '')],
      ['Created', timeEl(job.created_at)],
      ['Started', timeEl(job.started_at)],
      ['Finished', timeEl(job.finished_at)],
      ['Exit code', job.exit_code ?? ''],
      ['Stop code', job.stop_code ?? ''],
      ['Reason', job.error ?? ''],
    ]);
    const btn = $('job-detail-cancel');
    btn.disabled = isTerminal(job.status) || job.cancel_requested;
    btn.textContent = isTerminal(job.status) ? `Finished (${job.status})` : job.cancel_requested ? 'Cancel requested…' : 'Cancel this job';
    $('job-events')
      .querySelector('tbody')
      .replaceChildren(
        ...(events || []).map((e) =>
          h(
            'tr',
            {},
            h('td', {}, timeEl(e.at)),
            h('td', {}, e.from_status ?? '—'),
            h('td', {}, e.to_status),
            h('td', {}, e.source),
            h('td', {}, h('code', {}, e.detail === null || e.detail === undefined ? '' : JSON.stringify(e.detail))),
          ),
        ),
      );
  }

  async function loadDetail() {
    if (!openId) return;
    const id = openId;
    try {
      const [job, events] = await Promise.all([api.getJob(id), api.jobEvents(id)]);
      if (openId !== id) return;
      noteChanges([job]);
      clearNotice(detailError);
      renderDetail(job, events.items);
    } catch (e) {
      if (openId === id) ctx.fail(detailError, e);
    }
  }

  async function openJobDetail(id, focus) {
    openId = id;
    openJob = null;
    clearNotice(detailError);
    $('job-detail-fields').replaceChildren();
    $('job-events').querySelector('tbody').replaceChildren();
    $('job-detail-title').textContent = `Job ${id}`;
    show(detail);
    if (focus) $('job-detail-title').focus();
    await loadDetail();
  }

  $('lookup-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const id = $('lookup-id').value.trim();
    if (!id) return $('lookup-id').focus();
    openJobDetail(id, true);
  });
  $('job-detail-close').addEventListener('click', () => {
    openId = null;
    show(detail, false);
    $('list-title').setAttribute('tabindex', '-1');
    $('list-title').focus();
  });
  $('job-detail-cancel').addEventListener('click', () => openId && cancel(openId));

  async function cancel(id) {
    const region = openId === id ? detailError : listError;
    clearNotice(region);
    try {
      const job = await api.cancelJob(id);
      ctx.announce(job.status === 'cancelled' ? `Job ${short(id)} is cancelled.` : `Cancel of job ${short(id)} requested; waiting for ECS to stop it.`);
      renderInfo(region, job.status === 'cancelled' ? `Job ${short(id)} is cancelled.` : `Cancel requested for job ${short(id)}: it stops once ECS confirms.`);
      region.classList.remove('error');
    } catch (e) {
      ctx.fail(region, e);
    }
    await refreshList();
    if (openId === id) await loadDetail();
  }

  // ------------------------------------------------------------ polling
  async function tick() {
    timer = null;
    if (!ctx.isActive('jobs') || !$('jobs-live').checked || polling) return schedule();
    polling = true;
    try {
      await refreshList();
      await loadDetail();
    } finally {
      polling = false;
      schedule();
    }
  }
  function schedule() {
    if (timer || !ctx.isActive('jobs')) return;
    timer = setTimeout(tick, config.pollSeconds * 1000);
  }
  $('jobs-live').addEventListener('change', () => schedule());

  return {
    async show() {
      await refreshList();
      if (openId) await loadDetail();
      schedule();
    },
    hide() {
      if (timer) clearTimeout(timer);
      timer = null;
    },
  };
}

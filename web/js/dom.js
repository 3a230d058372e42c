// Small DOM helpers: build elements without innerHTML (no markup from API
// answers is ever parsed), render errors, format times.

import { describeError } from './errors.js';

export const $ = (id) => {
  const node = document.getElementById(id);
  if (!node) throw new Error(`the page has no #${id}`);
  return node;
};

/** h('td', {class: 'mono'}, 'text', childNode) */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

export function show(node, visible = true) {
  node.hidden = !visible;
}

/**
 * Render an error into a role=alert region: heading, sentence, request id.
 * Returns the description (signIn tells the caller to ask for a new sign-in).
 */
export function renderError(region, err) {
  const d = describeError(err);
  region.replaceChildren(
    h('strong', { class: 'error-heading' }, d.heading),
    h('p', { class: 'error-message' }, d.message),
    d.requestId ? h('p', {}, 'Request id: ', h('span', { class: 'request-id' }, d.requestId)) : null,
  );
  region.classList.add('error');
  show(region);
  return d;
}

export function clearNotice(region) {
  region.replaceChildren();
  show(region, false);
}

export function renderInfo(region, ...content) {
  region.replaceChildren(...content);
  region.classList.remove('error');
  show(region);
}

/** An ISO time as the viewer's local date and time; '' for nothing. */
export function when(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
}

/** <time> element with the exact value as its datetime attribute. */
export function timeEl(iso) {
  return iso ? h('time', { datetime: iso, title: iso }, when(iso)) : '';
}

/** A <dl> filled from [label, value] pairs; values may be nodes. */
export function fillDetails(dl, pairs) {
  dl.replaceChildren(
    ...pairs.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v === undefined || v === null || v === '' ? '—' : v)]),
  );
  dl.removeAttribute('aria-busy');
}

/** Disable a form's controls while a call runs; returns the function that re-enables them. */
export function busy(form) {
  const controls = [...form.querySelectorAll('button, input, select, textarea')].filter((c) => !c.disabled);
  for (const c of controls) c.disabled = true;
  form.setAttribute('aria-busy', 'true');
  return () => {
    for (const c of controls) c.disabled = false;
    form.removeAttribute('aria-busy');
  };
}

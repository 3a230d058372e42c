// The console: loads config.json, signs in with Cognito, and shows one view
// at a time (hash routes #/me, #/jobs, #/keys, #/services).

import { createApi } from './api.js';
import { createCognito, describeCognitoError } from './cognito.js';
import { loadConfig } from './config.js';
import { $, busy, clearNotice, fillDetails, h, renderError, renderInfo, show } from './dom.js';
import { ApiError } from './errors.js';
import { initJobs } from './jobs.js';
import { initKeys } from './keys.js';
import { initServices } from './services.js';
import { createSession } from './session.js';

const VIEWS = ['me', 'jobs', 'keys', 'services'];

async function main() {
  let config;
  try {
    config = await loadConfig();
  } catch (e) {
    show($('loading'), false);
    renderError($('page-notice'), e);
    return;
  }
  $('env-name').textContent = config.environment ? `(${config.environment})` : '';
  const cognito = createCognito(config.cognito);
  const session = createSession(cognito);
  let me = null; // the last /v1/me answer
  let active = null; // the view shown

  const api = createApi({
    baseUrl: config.apiBaseUrl,
    token: () => session.token(),
    refresh: () => session.renew(),
  });

  const announcer = $('announcer');
  const ctx = {
    config,
    api,
    scopes: () => new Set(me?.scopes || []),
    announce(text) {
      announcer.textContent = '';
      // A fresh text node makes screen readers announce repeats too.
      setTimeout(() => {
        announcer.textContent = text;
      }, 50);
    },
    /** Show an API error in a region; a 401 also ends the session. */
    fail(region, err) {
      const d = renderError(region, err);
      if (d.signIn) expireSession(d);
      return d;
    },
    isActive: (view) => active === view && !document.hidden,
  };

  const views = {
    me: { show: () => loadMe(), hide() {} },
    jobs: initJobs(ctx),
    keys: initKeys(ctx),
    services: initServices(ctx),
  };

  // ----------------------------------------------------------- sign in
  let step = null; // a pending Cognito challenge
  const signinError = $('signin-error');

  function showSignin(reason) {
    for (const v of VIEWS) show($(`view-${v}`), false);
    if (active) views[active].hide();
    active = null;
    show($('nav'), false);
    show($('whoami'), false);
    show($('view-signin'));
    show($('signin-form'));
    show($('newpw-form'), false);
    show($('mfa-form'), false);
    const reasonEl = $('signin-reason');
    reasonEl.textContent = reason || '';
    show(reasonEl, Boolean(reason));
    $('signin-title').focus();
  }

  function expireSession(d) {
    session.expire();
    renderInfo($('page-notice'), h('strong', {}, d.heading), ' ', d.message);
    $('page-notice').classList.add('error');
    showSignin('Your session expired. Sign in again to continue where you were.');
  }

  async function finishSignIn(outcome) {
    if (outcome.tokens) {
      session.start(outcome.tokens, outcome.username || $('signin-username').value.trim());
      $('signin-form').reset();
      $('newpw-form').reset();
      $('mfa-form').reset();
      step = null;
      clearNotice($('page-notice'));
      await enter();
      return;
    }
    step = outcome;
    show($('signin-form'), false);
    if (outcome.challenge === 'NEW_PASSWORD_REQUIRED') {
      show($('newpw-form'));
      $('newpw-password').focus();
    } else if (outcome.challenge === 'SOFTWARE_TOKEN_MFA') {
      show($('mfa-form'));
      $('mfa-code').focus();
    } else {
      show($('signin-form'));
      renderInfo(
        signinError,
        `This account needs a sign-in step the console does not support (${outcome.challenge}). Sign in with the AWS CLI or ask an administrator.`,
      );
      signinError.classList.add('error');
    }
  }

  async function runSignInStep(form, action) {
    clearNotice(signinError);
    const done = busy(form);
    try {
      await finishSignIn(await action());
    } catch (e) {
      renderInfo(signinError, describeCognitoError(e));
      signinError.classList.add('error');
      if (e?.code === 'ResourceNotFoundException' || e?.code === 'NotAuthorizedException') {
        // The challenge session is gone: start over.
        if (step) {
          step = null;
          show($('newpw-form'), false);
          show($('mfa-form'), false);
          show($('signin-form'));
        }
      }
    } finally {
      done();
    }
  }

  $('signin-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const username = $('signin-username').value.trim();
    const password = $('signin-password').value;
    if (!username || !password) {
      renderInfo(signinError, 'Enter your user name and your password.');
      signinError.classList.add('error');
      (username ? $('signin-password') : $('signin-username')).focus();
      return;
    }
    runSignInStep(ev.currentTarget, () => cognito.signIn(username, password));
  });
  $('newpw-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const pw = $('newpw-password').value;
    if (!pw) return $('newpw-password').focus();
    runSignInStep(ev.currentTarget, () => cognito.respond(step, { NEW_PASSWORD: pw }));
  });
  $('mfa-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const code = $('mfa-code').value.trim();
    if (!/^\d{6}$/.test(code)) {
      renderInfo(signinError, 'Enter the 6-digit code from your authenticator app.');
      signinError.classList.add('error');
      return $('mfa-code').focus();
    }
    runSignInStep(ev.currentTarget, () => cognito.respond(step, { SOFTWARE_TOKEN_MFA_CODE: code }));
  });

  $('signout').addEventListener('click', async () => {
    if (active) views[active].hide();
    const revoked = await session.signOut();
    me = null;
    renderInfo(
      $('page-notice'),
      revoked ? 'You are signed out.' : 'You are signed out here; the sign-in service could not be told to revoke the session (it ends when its tokens expire).',
    );
    $('page-notice').classList.remove('error');
    showSignin();
  });

  // ----------------------------------------------------------- who am I
  async function loadMe() {
    const region = $('me-error');
    clearNotice(region);
    try {
      me = await api.me();
    } catch (e) {
      ctx.fail(region, e);
      return null;
    }
    const user = session.user;
    fillDetails($('me-details'), [
      ['User', user?.username],
      ['Email', user?.email],
      ['Groups', (user?.groups || []).join(', ')],
      ['Principal', h('code', {}, me.principal_id ?? '')],
      ['Principal type', me.principal_type],
      ['Tenant', me.tenant],
      ['Scopes', h('ul', { class: 'scopes' }, (me.scopes || []).map((s) => h('li', {}, h('code', {}, s))))],
      ['API key id', me.key_id ?? ''],
    ]);
    updateHeader();
    return me;
  }
  $('me-refresh').addEventListener('click', loadMe);

  function updateHeader() {
    const user = session.user;
    const tenant = me?.tenant ? ` (tenant ${me.tenant})` : '';
    $('whoami-name').textContent = user ? `Signed in as ${user.email || user.username}${tenant}` : '';
    const canKeys = ctx.scopes().has('keys:admin');
    $('nav-keys').parentElement.hidden = !canKeys;
  }

  // ----------------------------------------------------------- routing
  function route() {
    if (!session.current) return;
    const wanted = location.hash.replace(/^#\/?/, '') || 'me';
    const view = VIEWS.includes(wanted) ? wanted : 'me';
    if (active && active !== view) views[active].hide();
    for (const v of VIEWS) show($(`view-${v}`), v === view);
    for (const a of document.querySelectorAll('#nav a')) {
      if (a.dataset.view === view) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    const changed = active !== view;
    active = view;
    if (changed) $(`${view}-title`).focus();
    views[view].show();
  }
  window.addEventListener('hashchange', route);

  async function enter() {
    show($('view-signin'), false);
    show($('nav'));
    show($('whoami'));
    updateHeader();
    const got = await loadMe();
    if (!session.current) return; // the /v1/me call ended the session (401)
    if (!got) {
      // Not a 401: show the error on the "who am I" view.
      location.hash = '#/me';
    }
    route();
  }

  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && active) views[active].show();
  });

  show($('loading'), false);
  if (session.current) await enter();
  else showSignin();
}

main().catch((e) => {
  const region = document.getElementById('page-notice');
  if (region) renderError(region, e instanceof ApiError ? e : new Error(`The console failed to start: ${e?.message || e}`));
});

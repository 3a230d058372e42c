// The signed-in session: tokens kept in sessionStorage (one browser tab; gone
// when the tab closes), renewed with the refresh token a minute before the
// access token expires, and cleared on sign-out or when renewal fails.

import { jwtClaims } from './cognito.js';

const STORAGE_KEY = 'portcullis.session';
const RENEW_BEFORE_MS = 60_000;

/**
 * @param {ReturnType<import('./cognito.js').createCognito>} cognito
 * @param {Storage} storage
 */
export function createSession(cognito, storage = globalThis.sessionStorage) {
  let current = load();
  let renewing = null;
  const listeners = new Set();

  function load() {
    try {
      const raw = storage.getItem(STORAGE_KEY);
      if (!raw) return null;
      const s = JSON.parse(raw);
      return s && typeof s.accessToken === 'string' ? s : null;
    } catch {
      return null;
    }
  }

  function save(s) {
    current = s;
    if (s) storage.setItem(STORAGE_KEY, JSON.stringify(s));
    else storage.removeItem(STORAGE_KEY);
    for (const fn of listeners) fn(s);
  }

  async function renew() {
    if (!current?.refreshToken) return false;
    if (!renewing) {
      const refreshToken = current.refreshToken;
      renewing = cognito
        .refresh(refreshToken)
        .then((t) => {
          save({ ...current, ...t });
          return true;
        })
        .catch(() => false)
        .finally(() => {
          renewing = null;
        });
    }
    return renewing;
  }

  return {
    /** The session ({accessToken, idToken, refreshToken, expiresAt, username}) or null. */
    get current() {
      return current;
    },
    /** Who signed in, from the id token (display only). */
    get user() {
      if (!current) return null;
      const id = jwtClaims(current.idToken) || {};
      const access = jwtClaims(current.accessToken) || {};
      return {
        username: id['cognito:username'] || access.username || current.username || '',
        email: id.email || '',
        groups: access['cognito:groups'] || id['cognito:groups'] || [],
      };
    },
    onChange(fn) {
      listeners.add(fn);
    },
    start(tokens, username) {
      save({ ...tokens, username });
    },
    /** A usable access token, renewed first when it is about to expire. */
    async token() {
      if (!current) return null;
      if (Date.now() > current.expiresAt - RENEW_BEFORE_MS) await renew();
      return current?.accessToken ?? null;
    },
    /** Renew now (after a 401). False when there is nothing to renew with or Cognito refused. */
    renew,
    /** Forget the session here; revoke its refresh token at Cognito (best effort). */
    async signOut() {
      const s = current;
      save(null);
      if (s?.refreshToken) {
        try {
          await cognito.revoke(s.refreshToken);
          return true;
        } catch {
          return false;
        }
      }
      return true;
    },
    /** Drop the session without calling Cognito (it was refused). */
    expire() {
      save(null);
    },
  };
}

// Sign-in with a Cognito user pool by calling the Cognito Identity Provider
// API directly (no SDK, no hosted UI): InitiateAuth with USER_PASSWORD_AUTH,
// RespondToAuthChallenge for NEW_PASSWORD_REQUIRED and SOFTWARE_TOKEN_MFA,
// InitiateAuth REFRESH_TOKEN_AUTH to renew, RevokeToken on sign-out.
//
// Why USER_PASSWORD_AUTH and not USER_SRP_AUTH (docs/decisions.md, "Web
// console"): the emulator (moto 5.2.5) answers USER_SRP_AUTH with a random
// SRP_B and accepts any PASSWORD_VERIFIER answer without checking it, so SRP
// code could not be proven locally (a wrong password signs in), and with IAM
// enforced the emulator refuses an unsigned RespondToAuthChallenge, which SRP
// needs on every sign-in. USER_PASSWORD_AUTH is one public call that both the
// emulator and Cognito check the same way (the password goes to Cognito over
// TLS, never to the Portcullis API). The app client must allow it
// (ALLOW_USER_PASSWORD_AUTH).

const TARGET_PREFIX = 'AWSCognitoIdentityProviderService.';

/** A refusal from Cognito: `code` is its error type (NotAuthorizedException...). */
export class CognitoError extends Error {
  constructor(code, message, status) {
    super(message || code);
    this.name = 'CognitoError';
    this.code = code;
    this.status = status;
  }
}

/** The Cognito endpoint of a config: its `endpoint`, else the regional one. */
export function cognitoEndpoint({ region, endpoint }) {
  if (endpoint) return endpoint.replace(/\/+$/, '') + '/';
  if (!region) throw new Error('config.json: cognito.region or cognito.endpoint is required');
  return `https://cognito-idp.${region}.amazonaws.com/`;
}

/** The claims of a JWT (not verified: for display and expiry only), or null. */
export function jwtClaims(token) {
  try {
    const part = String(token).split('.')[1];
    if (!part) return null;
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '=');
    const json = decodeURIComponent(
      Array.from(atob(b64), (c) => '%' + c.charCodeAt(0).toString(16).padStart(2, '0')).join(''),
    );
    const claims = JSON.parse(json);
    return claims && typeof claims === 'object' ? claims : null;
  } catch {
    return null;
  }
}

/** A person-readable sentence for a Cognito refusal. */
export function describeCognitoError(err) {
  if (!(err instanceof CognitoError)) {
    return `The sign-in service could not be reached (${err instanceof Error ? err.message : err}). Check your network and try again.`;
  }
  switch (err.code) {
    case 'NotAuthorizedException':
    case 'UserNotFoundException':
      // One message for both: no probing for which user names exist.
      if (/refresh token/i.test(err.message)) return 'Your session has ended. Sign in again.';
      if (/disabled/i.test(err.message)) return 'This account is disabled. Ask an administrator.';
      return 'Incorrect user name or password.';
    case 'PasswordResetRequiredException':
      return 'A password reset is required for this account. Ask an administrator to set a new password.';
    case 'UserNotConfirmedException':
      return 'This account is not confirmed yet. Ask an administrator to confirm it.';
    case 'InvalidPasswordException':
      return `The new password does not meet the password policy: ${err.message}`;
    case 'CodeMismatchException':
    case 'ExpiredCodeException':
      return 'The code is wrong or has expired. Try again with a fresh code.';
    case 'TooManyRequestsException':
    case 'LimitExceededException':
    case 'TooManyFailedAttemptsException':
      return 'Too many attempts. Wait a few minutes and try again.';
    case 'InvalidParameterException':
      if (/USER_PASSWORD_AUTH|auth flow|not enabled/i.test(err.message)) {
        return `The app client does not allow password sign-in (USER_PASSWORD_AUTH): ${err.message}. An operator must enable ALLOW_USER_PASSWORD_AUTH (docs/web.md).`;
      }
      return `The sign-in request was refused: ${err.message}`;
    case 'ResourceNotFoundException':
      return `The app client or sign-in session was not found (${err.message}). Reload the page; if it persists, config.json names the wrong client id.`;
    default:
      return `Sign-in failed (${err.code}): ${err.message}`;
  }
}

/**
 * A client of one user pool app client.
 * @param {{region?: string, endpoint?: string, clientId: string}} config
 * @param {typeof fetch} [fetchImpl]
 */
export function createCognito(config, fetchImpl = (...a) => fetch(...a)) {
  if (!config || !config.clientId) throw new Error('config.json: cognito.clientId is required');
  const url = cognitoEndpoint(config);

  async function call(action, body) {
    let resp;
    try {
      resp = await fetchImpl(url, {
        method: 'POST',
        mode: 'cors',
        credentials: 'omit',
        cache: 'no-store',
        headers: {
          'content-type': 'application/x-amz-json-1.1',
          'x-amz-target': TARGET_PREFIX + action,
        },
        body: JSON.stringify(body),
      });
    } catch (e) {
      throw new Error(`no answer from ${url}: ${e instanceof Error ? e.message : e}`);
    }
    const text = await resp.text();
    let data = {};
    try {
      data = text ? JSON.parse(text) : {};
    } catch {
      data = {};
    }
    if (!resp.ok) {
      const rawType = data.__type || resp.headers.get('x-amzn-errortype') || `HTTP ${resp.status}`;
      const code = String(rawType).split('#').pop().split(':')[0];
      throw new CognitoError(code, data.message || data.Message || text.slice(0, 200), resp.status);
    }
    return data;
  }

  /** The tokens of an AuthenticationResult, with their expiry time (ms). */
  function tokens(result, previousRefresh = null) {
    const expiresIn = Number(result.ExpiresIn) || 3600;
    return {
      accessToken: result.AccessToken,
      idToken: result.IdToken || null,
      refreshToken: result.RefreshToken || previousRefresh,
      expiresAt: Date.now() + expiresIn * 1000,
    };
  }

  /** Either {tokens} or {challenge, session, parameters}. */
  function outcome(data, username) {
    if (data.AuthenticationResult) return { tokens: tokens(data.AuthenticationResult) };
    if (data.ChallengeName) {
      return { challenge: data.ChallengeName, session: data.Session, parameters: data.ChallengeParameters || {}, username };
    }
    throw new CognitoError('UnexpectedAnswer', 'Cognito answered with neither tokens nor a challenge', 200);
  }

  return {
    endpoint: url,
    async signIn(username, password) {
      const data = await call('InitiateAuth', {
        AuthFlow: 'USER_PASSWORD_AUTH',
        ClientId: config.clientId,
        AuthParameters: { USERNAME: username, PASSWORD: password },
      });
      return outcome(data, username);
    },
    /** Answer a challenge (NEW_PASSWORD_REQUIRED: NEW_PASSWORD; SOFTWARE_TOKEN_MFA: SOFTWARE_TOKEN_MFA_CODE). */
    async respond(step, answers) {
      const username = step.parameters.USER_ID_FOR_SRP || step.parameters.USERNAME || step.username;
      const data = await call('RespondToAuthChallenge', {
        ChallengeName: step.challenge,
        ClientId: config.clientId,
        Session: step.session,
        ChallengeResponses: { USERNAME: username, ...answers },
      });
      return outcome(data, step.username);
    },
    async refresh(refreshToken) {
      const data = await call('InitiateAuth', {
        AuthFlow: 'REFRESH_TOKEN_AUTH',
        ClientId: config.clientId,
        AuthParameters: { REFRESH_TOKEN: refreshToken },
      });
      if (!data.AuthenticationResult) throw new CognitoError('UnexpectedAnswer', 'no tokens in the refresh answer', 200);
      return tokens(data.AuthenticationResult, refreshToken);
    },
    /** Revoke the refresh token (and the access tokens issued from it). */
    async revoke(refreshToken) {
      await call('RevokeToken', { ClientId: config.clientId, Token: refreshToken });
    },
  };
}

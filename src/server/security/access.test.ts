// Host, Origin and token checks of the studio server, on plain request facts.
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../errors.js';
import { accessPolicy, checkRequest, isLoopbackHost, newToken, type RequestFacts } from './access.js';

const TOKEN = 'a-test-token-that-is-long-enough';
const get = (facts: Partial<RequestFacts>): RequestFacts => ({
  method: 'GET',
  hostHeader: 'localhost:8765',
  originHeader: undefined,
  authorization: undefined,
  ...facts,
});
const post = (facts: Partial<RequestFacts>): RequestFacts => get({ method: 'POST', ...facts });

describe('isLoopbackHost', () => {
  it.each(['localhost', 'LOCALHOST', '127.0.0.1', '127.1.2.3', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1'])(
    '%s is loopback',
    (host) => expect(isLoopbackHost(host)).toBe(true),
  );
  it.each(['0.0.0.0', '::', '192.168.1.5', '127.0.0.256', '128.0.0.1', 'localhost.evil.example', 'studio.lan', ''])(
    '%s is not loopback',
    (host) => expect(isLoopbackHost(host)).toBe(false),
  );
});

describe('accessPolicy', () => {
  it('serves the three loopback names on a loopback bind, with no token needed', () => {
    expect(accessPolicy({ host: '127.0.0.1', port: 8765 })).toEqual({
      servedHosts: ['localhost:8765', '127.0.0.1:8765', '[::1]:8765'],
      anyHost: false,
      tokenRequired: false,
      token: undefined,
    });
    expect(accessPolicy({ host: '::1', port: 8765 }).servedHosts).toEqual([
      'localhost:8765',
      '127.0.0.1:8765',
      '[::1]:8765',
    ]);
  });

  it('adds an unusual loopback address it is bound to', () => {
    expect(accessPolicy({ host: '127.0.0.2', port: 9000 }).servedHosts).toEqual([
      'localhost:9000',
      '127.0.0.1:9000',
      '[::1]:9000',
      '127.0.0.2:9000',
    ]);
  });

  it('serves a LAN name first and requires its token', () => {
    const policy = accessPolicy({ host: 'Studio.LAN', port: 8765, token: TOKEN });
    expect(policy.servedHosts).toEqual(['studio.lan:8765', 'localhost:8765', '127.0.0.1:8765', '[::1]:8765']);
    expect(policy).toMatchObject({ anyHost: false, tokenRequired: true, token: TOKEN });
  });

  it('brackets a bound IPv6 address', () => {
    expect(accessPolicy({ host: 'fd00::5', port: 8765, token: TOKEN }).servedHosts[0]).toBe('[fd00::5]:8765');
  });

  it('accepts any Host on a wildcard bind, but only with a token', () => {
    for (const host of ['0.0.0.0', '::', '[::]']) {
      const policy = accessPolicy({ host, port: 8765, token: TOKEN });
      expect(policy).toMatchObject({ anyHost: true, tokenRequired: true });
      expect(policy.servedHosts).toEqual(['localhost:8765', '127.0.0.1:8765', '[::1]:8765']);
    }
  });

  it('also accepts a Host without the port on port 80, as browsers send it', () => {
    expect(accessPolicy({ host: 'localhost', port: 80 }).servedHosts).toContain('localhost');
  });

  it('refuses a non-loopback bind without a token, naming the host and what to do', () => {
    for (const host of ['0.0.0.0', '::', '192.168.1.5']) {
      const error = catchError(() => accessPolicy({ host, port: 8765 }));
      expect(error).toBeInstanceOf(UsageError);
      expect(error).toMatchObject({ code: 'token_required', culprit: 'host' });
      expect((error as UsageError).message).toContain(`\`${host}\``);
      expect((error as UsageError).hint).toContain('127.0.0.1');
    }
  });

  it('refuses a token short enough to guess', () => {
    expect(() => accessPolicy({ host: '0.0.0.0', port: 8765, token: 'short' })).toThrow(/fewer than 16/);
  });

  it('checks a token given on loopback too', () => {
    expect(accessPolicy({ host: '127.0.0.1', port: 8765, token: TOKEN }).tokenRequired).toBe(true);
  });
});

describe('checkRequest: Host', () => {
  const policy = accessPolicy({ host: '127.0.0.1', port: 8765 });

  it.each(['localhost:8765', '127.0.0.1:8765', '[::1]:8765', 'LocalHost:8765'])('serves Host %s', (hostHeader) => {
    expect(checkRequest(policy, get({ hostHeader }))).toBeNull();
  });

  it('refuses a missing Host with 400', () => {
    expect(checkRequest(policy, get({ hostHeader: undefined }))).toMatchObject({ status: 400, code: 'host_missing' });
    expect(checkRequest(policy, get({ hostHeader: '' }))).toMatchObject({ status: 400, code: 'host_missing' });
  });

  it.each(['evil.example:8765', 'localhost:9999', 'localhost', '127.0.0.1', 'localhost.evil.example:8765'])(
    'refuses Host %s (DNS rebinding) with 403 and the address to open',
    (hostHeader) => {
      const refusal = checkRequest(policy, get({ hostHeader }));
      expect(refusal).toMatchObject({ status: 403, code: 'host_not_allowed' });
      expect(refusal?.message).toContain(`\`${hostHeader.toLowerCase()}\``);
      expect(refusal?.message).toContain('open http://localhost:8765');
    },
  );

  it('serves any Host on a wildcard bind once the token is right', () => {
    const wildcard = accessPolicy({ host: '0.0.0.0', port: 8765, token: TOKEN });
    const authorization = `Bearer ${TOKEN}`;
    expect(checkRequest(wildcard, get({ hostHeader: '192.168.1.5:8765', authorization }))).toBeNull();
    expect(checkRequest(wildcard, get({ hostHeader: 'anything.example', authorization }))).toBeNull();
    expect(checkRequest(wildcard, get({ hostHeader: 'anything.example' }))).toMatchObject({ status: 401 });
  });
});

describe('checkRequest: Origin on state-changing requests', () => {
  const policy = accessPolicy({ host: '127.0.0.1', port: 8765 });

  it.each(['POST', 'PUT', 'PATCH', 'DELETE', 'post'])('%s from a foreign page is refused with 403', (method) => {
    const refusal = checkRequest(policy, get({ method, originHeader: 'https://evil.example' }));
    expect(refusal).toMatchObject({ status: 403, code: 'origin_not_allowed' });
    expect(refusal?.message).toContain('`https://evil.example`');
    expect(refusal?.message).toContain('http://localhost:8765');
  });

  it('lets a write through without Origin (curl, scripts) or from a served origin', () => {
    expect(checkRequest(policy, post({}))).toBeNull();
    for (const originHeader of ['http://localhost:8765', 'http://127.0.0.1:8765', 'http://[::1]:8765']) {
      expect(checkRequest(policy, post({ originHeader }))).toBeNull();
    }
  });

  it.each(['null', 'https://localhost:8765', 'http://localhost:9999', 'http://localhost:8765.evil.example'])(
    'refuses a write from Origin %s',
    (originHeader) => {
      expect(checkRequest(policy, post({ originHeader }))).toMatchObject({ status: 403, code: 'origin_not_allowed' });
    },
  );

  it('lets reads through whatever the Origin, since the browser will not show them to a foreign page', () => {
    for (const method of ['GET', 'HEAD', 'OPTIONS']) {
      expect(checkRequest(policy, get({ method, originHeader: 'https://evil.example' }))).toBeNull();
    }
  });

  it('on a wildcard bind accepts only the origin of the Host being written to', () => {
    const wildcard = accessPolicy({ host: '0.0.0.0', port: 8765, token: TOKEN });
    const facts = { hostHeader: '192.168.1.5:8765', authorization: `Bearer ${TOKEN}` };
    expect(checkRequest(wildcard, post({ ...facts, originHeader: 'http://192.168.1.5:8765' }))).toBeNull();
    expect(checkRequest(wildcard, post({ ...facts, originHeader: 'http://evil.example' }))).toMatchObject({
      status: 403,
      code: 'origin_not_allowed',
    });
  });
});

describe('checkRequest: token', () => {
  const policy = accessPolicy({ host: 'studio.lan', port: 8765, token: TOKEN });
  const hostHeader = 'studio.lan:8765';

  it('accepts the token as a bearer header (any case of the scheme) or as a cookie', () => {
    expect(checkRequest(policy, get({ hostHeader, authorization: `Bearer ${TOKEN}` }))).toBeNull();
    expect(checkRequest(policy, get({ hostHeader, authorization: `bearer ${TOKEN}` }))).toBeNull();
    expect(checkRequest(policy, get({ hostHeader, cookieToken: TOKEN }))).toBeNull();
  });

  it('takes `?token=` on reads (the printed link, images, event streams) but never on a write', () => {
    expect(checkRequest(policy, get({ hostHeader, queryToken: TOKEN }))).toBeNull();
    expect(checkRequest(policy, get({ hostHeader, queryToken: 'not-the-token-at-all' }))?.code).toBe('token_invalid');
    const write = { ...get({ hostHeader, queryToken: TOKEN }), method: 'POST' };
    expect(checkRequest(policy, write)?.code).toBe('token_missing');
  });

  it('refuses a request with no token with 401 and says how to send it', () => {
    const refusal = checkRequest(policy, get({ hostHeader }));
    expect(refusal).toMatchObject({ status: 401, code: 'token_missing' });
    expect(refusal?.message).toContain('Authorization: Bearer');
    expect(checkRequest(policy, get({ hostHeader, authorization: 'Basic dXNlcjpwYXNz' }))).toMatchObject({
      code: 'token_missing',
    });
  });

  it.each([TOKEN.slice(0, -1), `${TOKEN}x`, TOKEN.toUpperCase(), 'x'])('refuses the wrong token %s', (wrong) => {
    expect(checkRequest(policy, get({ hostHeader, authorization: `Bearer ${wrong}` }))).toMatchObject({
      status: 401,
      code: 'token_invalid',
    });
    expect(checkRequest(policy, get({ hostHeader, cookieToken: wrong }))).toMatchObject({ code: 'token_invalid' });
  });

  it('checks Host before the token, so a rebinding page learns nothing about it', () => {
    expect(checkRequest(policy, get({ hostHeader: 'evil.example:8765' }))).toMatchObject({ code: 'host_not_allowed' });
  });
});

describe('newToken', () => {
  it('is url-safe and carries 32 random bytes', () => {
    const tokens = new Set(Array.from({ length: 50 }, newToken));
    expect(tokens.size).toBe(50);
    for (const token of tokens) {
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(token, 'base64url')).toHaveLength(32);
    }
  });

  it('is accepted by accessPolicy for a wildcard bind', () => {
    expect(accessPolicy({ host: '0.0.0.0', port: 8765, token: newToken() }).tokenRequired).toBe(true);
  });
});

function catchError(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

// Pure: who may talk to the studio server — the Host names it answers to, the Origins that may change state, the token.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { UsageError } from '../../errors.js';
import type { Refusal } from './refused.js';

export interface AccessOptions {
  /** The address the server binds: `127.0.0.1`, `localhost`, `::1`, a LAN name, or a wildcard `0.0.0.0` / `::`. */
  host: string;
  port: number;
  /** Required for any bind that is not loopback; on loopback it is optional and, when given, checked too. */
  token?: string | undefined;
}

export interface AccessPolicy {
  /** Host header values answered to, lower-case, `name:port` (`[::1]:port` for IPv6); the first is the one to show. */
  servedHosts: readonly string[];
  /** A wildcard bind answers any Host header: its names cannot be listed, so the token is what keeps others out. */
  anyHost: boolean;
  tokenRequired: boolean;
  token: string | undefined;
}

export interface RequestFacts {
  method: string;
  hostHeader: string | undefined;
  originHeader: string | undefined;
  authorization: string | undefined;
  cookieToken?: string | undefined;
  /**
   * `?token=` of the URL, taken on reads only: it is how the printed studio link logs a browser in (the server then
   * sets the cookie), and how an `<img>` or an EventSource, which cannot send headers, may authenticate.
   */
  queryToken?: string | undefined;
}

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '::1'];
const WILDCARD_HOSTS = new Set(['0.0.0.0', '::']);
const STATE_CHANGING_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** A shorter token could be guessed by a LAN neighbour trying; `newToken()` gives 43 characters. */
const MIN_TOKEN_LENGTH = 16;

export function isLoopbackHost(host: string): boolean {
  const name = bare(host);
  if (name === 'localhost' || name === '::1' || name === '0:0:0:0:0:0:0:1') return true;
  const ipv4 = name.startsWith('::ffff:') ? name.slice('::ffff:'.length) : name;
  const octets = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ipv4);
  if (octets === null) return false;
  return octets.slice(1).every((octet) => Number(octet) <= 255);
}

export function accessPolicy({ host, port, token }: AccessOptions): AccessPolicy {
  const loopback = isLoopbackHost(host);
  if (!loopback && token === undefined) {
    throw new UsageError(`serving on \`${host}\` lets other machines in, so it needs a token`, {
      code: 'token_required',
      culprit: 'host',
      hint: 'keep the default host `127.0.0.1`, or give a token (one from `newToken()` is printed at start)',
    });
  }
  if (token !== undefined && token.length < MIN_TOKEN_LENGTH) {
    throw new UsageError(`the token has ${token.length} characters, fewer than ${MIN_TOKEN_LENGTH}`, {
      code: 'token_too_short',
      culprit: 'token',
      hint: 'use a longer token, or let the server make one',
    });
  }
  const bound = bare(host);
  const anyHost = WILDCARD_HOSTS.has(bound);
  // The bound name leads when it is what users type (a LAN name); `0.0.0.0` is never a Host a browser sends.
  const names = anyHost ? LOOPBACK_NAMES : loopback ? [...LOOPBACK_NAMES, bound] : [bound, ...LOOPBACK_NAMES];
  return {
    servedHosts: [...new Set(names)].flatMap((name) => hostHeaderValues(name, port)),
    anyHost,
    tokenRequired: token !== undefined,
    token,
  };
}

/** null when the request may go on; otherwise the refusal to send, its message saying what to do. */
export function checkRequest(policy: AccessPolicy, request: RequestFacts): Refusal | null {
  const hostHeader = request.hostHeader?.trim().toLowerCase();
  const studioUrl = `http://${policy.servedHosts[0]}`;
  if (!hostHeader) {
    return { status: 400, code: 'host_missing', message: 'the request has no Host header; send one, as browsers do' };
  }
  // Checking Host defeats DNS rebinding: a page on evil.example re-pointed at 127.0.0.1 still sends its own name.
  if (!policy.anyHost && !policy.servedHosts.includes(hostHeader)) {
    return {
      status: 403,
      code: 'host_not_allowed',
      message: `Host \`${hostHeader}\` is not a name this server answers to; open ${studioUrl}`,
    };
  }
  if (STATE_CHANGING_METHODS.has(request.method.toUpperCase()) && !originAllowed(policy, hostHeader, request)) {
    return {
      status: 403,
      code: 'origin_not_allowed',
      message: `Origin \`${request.originHeader}\` may not change anything here; use the studio page at ${studioUrl}`,
    };
  }
  if (policy.tokenRequired) return checkToken(policy.token ?? '', request);
  return null;
}

/** A random token for the URL or a header: 32 bytes (256 bits) in base64url, 43 characters. */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Browsers send Origin on cross-site writes; clients like curl send none, and only a browser can be tricked. */
function originAllowed(policy: AccessPolicy, hostHeader: string, request: RequestFacts): boolean {
  const origin = request.originHeader?.trim().toLowerCase();
  if (origin === undefined) return true;
  // On a wildcard bind the served names are unknown, so the page must come from the very host it writes to.
  const hosts = policy.anyHost ? [hostHeader] : policy.servedHosts;
  return hosts.some((host) => origin === `http://${host}`);
}

function checkToken(expected: string, request: RequestFacts): Refusal | null {
  const bearer = /^bearer\s+(\S+)\s*$/i.exec(request.authorization ?? '')?.[1];
  const isRead = !STATE_CHANGING_METHODS.has(request.method.toUpperCase());
  const presented = bearer ?? request.cookieToken ?? (isRead ? request.queryToken : undefined);
  if (presented === undefined || presented === '') {
    return {
      status: 401,
      code: 'token_missing',
      message: 'this server needs a token; send `Authorization: Bearer <token>` with the token printed at start',
    };
  }
  if (!sameSecret(presented, expected)) {
    return {
      status: 401,
      code: 'token_invalid',
      message: 'the token is wrong; copy the one `lora-scripts serve` printed at start',
    };
  }
  return null;
}

/** Compares in constant time: hashing first gives equal-length buffers, so not even the length leaks. */
function sameSecret(presented: string, expected: string): boolean {
  const digest = (secret: string) => createHash('sha256').update(secret).digest();
  return timingSafeEqual(digest(presented), digest(expected));
}

/** A host without IPv6 brackets, lower-case: `[::1]` → `::1`. */
function bare(host: string): string {
  const name = host.trim().toLowerCase();
  return name.startsWith('[') && name.endsWith(']') ? name.slice(1, -1) : name;
}

/** The Host header values a browser sends for `name` on `port`; on port 80 it leaves the port out. */
function hostHeaderValues(name: string, port: number): string[] {
  const shown = name.includes(':') ? `[${name}]` : name;
  return port === 80 ? [`${shown}:80`, shown] : [`${shown}:${port}`];
}

// Every call to the studio API: same origin, the token (when the page was opened with one), errors as ApiError.
import type { ApiErrorBody } from './types.js';

const TOKEN_KEY = 'lora-scripts.token';

/** A 4xx/5xx answer (or no answer at all: code `network`), with the server's code, message and hint. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly hint: string | undefined;
  readonly field: string | undefined;

  constructor(status: number, body: ApiErrorBody) {
    super(body.message);
    this.name = 'ApiError';
    this.status = status;
    this.code = body.code;
    this.hint = body.hint;
    this.field = body.field;
  }
}

/**
 * Moves `?token=` from the page URL into localStorage (so a reload or a bookmark without it still works, and the
 * token does not stay in the address bar or in screenshots).
 */
export function adoptTokenFromUrl(): void {
  const url = new URL(window.location.href);
  const token = url.searchParams.get('token');
  if (token === null) return;
  safeStorage()?.setItem(TOKEN_KEY, token);
  url.searchParams.delete('token');
  window.history.replaceState(window.history.state, '', url.pathname + url.search + url.hash);
}

function token(): string | null {
  return safeStorage()?.getItem(TOKEN_KEY) ?? null;
}

function safeStorage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

/** For URLs the browser fetches itself (img, EventSource, download links), which cannot send a header. */
export function withToken(url: string): string {
  const value = token();
  if (value === null) return url;
  return `${url}${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(value)}`;
}

/** `/api/files/<path>` for a workspace path, each segment encoded (names may hold spaces or CJK). */
export function fileUrl(path: string, thumb?: number): string {
  const encoded = path.split('/').map(encodeURIComponent).join('/');
  return withToken(`/api/files/${encoded}${thumb ? `?thumb=${thumb}` : ''}`);
}

export interface RequestOptions {
  method?: string;
  json?: unknown;
  body?: BodyInit;
  contentType?: string;
  signal?: AbortSignal;
}

export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const headers = new Headers();
  const value = token();
  if (value !== null) headers.set('authorization', `Bearer ${value}`);
  let body = options.body;
  if (options.json !== undefined) {
    headers.set('content-type', 'application/json');
    body = JSON.stringify(options.json);
  } else if (options.contentType) {
    headers.set('content-type', options.contentType);
  }
  let response: Response;
  try {
    response = await fetch(path, {
      method: options.method ?? (body === undefined ? 'GET' : 'POST'),
      headers,
      body: body ?? null,
      signal: options.signal ?? null,
    });
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error;
    throw new ApiError(0, { code: 'network', message: String((error as Error).message ?? error) });
  }
  const text = await response.text();
  const parsed = parseJson(text);
  if (!response.ok) throw new ApiError(response.status, errorBodyOf(parsed, response.status, text));
  return parsed as T;
}

function parseJson(text: string): unknown {
  if (text === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function errorBodyOf(parsed: unknown, status: number, text: string): ApiErrorBody {
  const error = (parsed as { error?: Partial<ApiErrorBody> } | null)?.error;
  if (error && typeof error.code === 'string') {
    return { code: error.code, message: error.message ?? error.code, hint: error.hint, field: error.field };
  }
  return { code: `http_${status}`, message: text.slice(0, 200) || `HTTP ${status}` };
}

// Every call to the studio API: same origin, errors as ApiError. On a server with a token, the printed `?token=` link
// left an HttpOnly cookie when the page loaded, so every request (fetch, img, EventSource, downloads) carries it and
// no script of the page ever holds the token.
import type { ApiErrorBody } from './types.js';

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

/** Takes `?token=` out of the address bar (the server has set its cookie), so it stays out of bookmarks and screenshots. */
export function dropTokenFromUrl(): void {
  const url = new URL(window.location.href);
  if (!url.searchParams.has('token')) return;
  url.searchParams.delete('token');
  window.history.replaceState(window.history.state, '', url.pathname + url.search + url.hash);
}

/** `/api/files/<path>` for a workspace path, each segment encoded (names may hold spaces or CJK). */
export function fileUrl(path: string, thumb?: number): string {
  const encoded = path.split('/').map(encodeURIComponent).join('/');
  return `/api/files/${encoded}${thumb ? `?thumb=${thumb}` : ''}`;
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

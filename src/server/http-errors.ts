// Errors → HTTP in one place: every failure becomes `{error: {code, message, hint?, field?}}` with one status.
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { HTTPException } from 'hono/http-exception';
import type { z } from 'zod';
import { LoraScriptsError } from '../errors.js';
import { RequestRefused, type Refusal } from './security/index.js';
import type { ErrorBody } from './schemas.js';

export interface HttpError {
  status: ContentfulStatusCode;
  body: ErrorBody;
}

/** Store codes that are the client's to fix; any other LoraScriptsError code is a plain 400. */
const STATUS_BY_CODE: Readonly<Record<string, ContentfulStatusCode>> = {
  job_not_found: 404,
  invalid_job: 400,
  invalid_job_update: 400,
  job_exists: 409,
  illegal_job_transition: 409,
  device_busy: 409,
  // src/server/loras/: a LoRA path with no file, a keep of a step with no saved LoRA, a keep on a non-train job.
  lora_not_found: 404,
  step_not_saved: 404,
  not_a_train_job: 409,
  // src/library/: a style, version or region rule that is not there; a lifecycle step the version's status refuses.
  style_not_found: 404,
  style_version_not_found: 404,
  region_not_found: 404,
  illegal_version_transition: 409,
  no_promoted_version: 409,
};

/** Names for the statuses Hono's validators raise by themselves. */
const HTTP_CODES: Readonly<Record<number, string>> = { 400: 'bad_request', 415: 'unsupported_media_type' };

const API_HINT = 'GET /api/openapi.json describes what each route accepts';

export function refusalError(refusal: Refusal): HttpError {
  const { status, ...error } = refusal;
  return { status, body: { error } };
}

/** A request that failed its schema: 400 naming the first field at fault and what to send instead. */
export function validationError(error: z.ZodError, target: string): HttpError {
  const issue = error.issues[0];
  const path = issue?.path ?? [];
  const field = path.length > 0 ? path.map(String).join('.') : target;
  // An issue with no path is about the whole part (a body that is not an object), so there is no field to name.
  const where = path.length > 0 ? `${target} field \`${field}\`` : `the ${target} part of the request`;
  const message = `${where}: ${issue?.message ?? 'is not valid'}`;
  return { status: 400, body: { error: { code: 'invalid_request', message, field, hint: API_HINT } } };
}

/** Any thrown error as the response to send; `internal` is true for the 500s, whose stack belongs in the log. */
export function errorToHttp(error: unknown): HttpError & { internal: boolean } {
  if (error instanceof RequestRefused) return { ...refusalError(error.refusal), internal: false };
  if (error instanceof LoraScriptsError) {
    const status = STATUS_BY_CODE[error.code] ?? 400;
    const body = { error: { code: error.code, message: error.line, ...(error.hint ? { hint: error.hint } : {}) } };
    return { status, body, internal: status >= 500 };
  }
  // Hono's own 4xx (malformed JSON in a body, …); its message is written for the client.
  if (error instanceof HTTPException && error.status < 500) {
    const code = HTTP_CODES[error.status] ?? `http_${error.status}`;
    return { status: error.status, body: { error: { code, message: error.message, hint: API_HINT } }, internal: false };
  }
  return {
    status: 500,
    body: { error: { code: 'internal_error', message: 'the server failed on this request; its log has the details' } },
    internal: true,
  };
}

// OpenAPI response entries shared by the routes: a JSON body of a schema, and the error statuses.
import type { z } from '@hono/zod-openapi';
import { errorBodySchema } from '../schemas.js';

export function jsonBody<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { 'application/json': { schema } } };
}

const errorResponse = (description: string) => jsonBody(errorBodySchema, description);

/** What the security middleware may answer to any route. */
export const REFUSED_RESPONSES = {
  401: errorResponse('No token, or a wrong one, on a server that needs one'),
  403: errorResponse('A Host this server does not answer to, or a write from a foreign Origin'),
} as const;

export const BAD_REQUEST = { 400: errorResponse('A field of the request is not valid; `field` names it') } as const;
export const NOT_FOUND = { 404: errorResponse('No job with that id') } as const;
export const CONFLICT = { 409: errorResponse("The job's status does not allow this") } as const;
/** What any route that takes a body may answer besides 400: a body too large, or one of a type it does not read. */
export const BODY_REFUSED = {
  413: errorResponse('The request body is larger than the server accepts'),
  415: errorResponse('The body is not of a type this route reads (JSON unless it says otherwise)'),
} as const;

// Every resource's router starts here, so a request that fails its schema gets the same 400 on every route.
import { OpenAPIHono } from '@hono/zod-openapi';
import { validationError } from './http-errors.js';

export function createRouter(): OpenAPIHono {
  return new OpenAPIHono({
    defaultHook: (result, c) => {
      if (result.success) return;
      const { status, body } = validationError(result.error, result.target);
      return c.json(body, status);
    },
  });
}

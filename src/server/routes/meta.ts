// What the server is: its version and the engine protocol it speaks.
import { createRoute } from '@hono/zod-openapi';
import { createRouter } from '../router.js';
import { versionSchema } from '../schemas.js';
import { jsonBody, REFUSED_RESPONSES } from './responses.js';

export interface ServerIdentity {
  name: string;
  version: string;
  protocol: number;
}

const getVersion = createRoute({
  method: 'get',
  path: '/api/version',
  summary: 'The server name, its version and the engine protocol it speaks',
  responses: { 200: jsonBody(versionSchema, 'The server version'), ...REFUSED_RESPONSES },
});

export function metaRoutes(identity: ServerIdentity) {
  return createRouter().openapi(getVersion, (c) => c.json(identity, 200));
}

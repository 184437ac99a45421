// The AUTOMATIC1111-compatible API (/sdapi/v1/…), wire-compatible with what its clients send and read.
import type { RouteDeps } from '../app.js';
import { createRouter } from '../router.js';

export function sdapiRoutes(_deps: RouteDeps) {
  return createRouter();
}

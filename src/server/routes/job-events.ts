// A job's typed events (progress, samples, checkpoints, findings, status) as a JSON page and as server-sent events.
import type { RouteDeps } from '../app.js';
import { createRouter } from '../router.js';

export function jobEventRoutes(_deps: RouteDeps) {
  return createRouter();
}

// The built web app (dist/web), its assets and its client-side pages.
import type { RouteDeps } from '../app.js';
import { createRouter } from '../router.js';

export function webAppRoutes(_deps: RouteDeps) {
  return createRouter();
}

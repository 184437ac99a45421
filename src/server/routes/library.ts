// The style library and the regions: styles with versions (draft, promoted, retired), place → style mappings.
import type { RouteDeps } from '../app.js';
import { createRouter } from '../router.js';

export function libraryRoutes(_deps: RouteDeps) {
  return createRouter();
}

// The cover service: covers for a region or city in its mapped style, with the title set on the picture.
import type { RouteDeps } from '../app.js';
import { createRouter } from '../router.js';

export function coverRoutes(_deps: RouteDeps) {
  return createRouter();
}

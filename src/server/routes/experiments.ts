// A/B experiments of covers: arms, assignment, exposures and clicks, and the analysis with its verdict.
import type { RouteDeps } from '../app.js';
import { createRouter } from '../router.js';

export function experimentRoutes(_deps: RouteDeps) {
  return createRouter();
}

// Datasets in the workspace: upload, pictures, captions with lint, find-and-replace, the prepare report.
import type { RouteDeps } from '../app.js';
import { createRouter } from '../router.js';

export function datasetRoutes(_deps: RouteDeps) {
  return createRouter();
}

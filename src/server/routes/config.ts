// The config form: the schema as form fields, pre-flight, YAML import and export.
import type { RouteDeps } from '../app.js';
import { createRouter } from '../router.js';

export function configRoutes(_deps: RouteDeps) {
  return createRouter();
}

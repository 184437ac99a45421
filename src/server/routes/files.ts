// Workspace files (sample images, thumbnails) read through the workspace confinement.
import type { RouteDeps } from '../app.js';
import { createRouter } from '../router.js';

export function workspaceFileRoutes(_deps: RouteDeps) {
  return createRouter();
}

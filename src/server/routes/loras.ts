// LoRA files in the workspace: list, inspect, download as kohya or diffusers, keep a checkpoint.
import type { RouteDeps } from '../app.js';
import { createRouter } from '../router.js';

export function loraRoutes(_deps: RouteDeps) {
  return createRouter();
}

// What every command receives from main.ts: the outside world, read once at the edge.
import type { Env } from '../engine/index.js';

export interface CommandContext {
  cwd: string;
  env: Env;
  verbose: boolean;
}

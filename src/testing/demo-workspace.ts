// A throwaway studio workspace for tests: the shipped demo base model and a small sample dataset, as a user would
// have them after `lora-scripts demo-data`. One place for what a dozen server and CLI tests start from.
import { copyFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSampleDataset } from '../demo/index.js';
import { PACKAGE_ROOT } from '../engine/paths.js';

export const DEMO_MODEL = join(PACKAGE_ROOT, 'models', 'demo-sd1.safetensors');

/**
 * The engine's environment in tests: the cache (LORA_SCRIPTS_CACHE_DIR) from the process; one torch thread, as the
 * busy test machine runs faster that way (src/generate/run.test.ts measured it).
 */
export const ENGINE_TEST_ENV: NodeJS.ProcessEnv = { ...process.env, CI: '1', OMP_NUM_THREADS: '1' };

export interface DemoWorkspaceOptions {
  /** The temp folder's name prefix (it says which test left it, if one does). */
  prefix?: string;
  /** Make the workspace here (a folder of the test's own, e.g. beside an `outside` folder) instead of a new temp one. */
  at?: string;
  /** Where the sample pictures go, relative to the workspace. */
  dataset?: string;
  count?: number;
  sizePx?: number;
  /** Extra files copied in: workspace-relative target → source path. */
  extraFiles?: Record<string, string>;
}

/**
 * A new temp folder with `models/demo-sd1.safetensors` and `count` jiangnan pictures with captions in `dataset`.
 * @example const workspace = await makeDemoWorkspace({ prefix: 'lora-train-job-' });
 */
export async function makeDemoWorkspace({
  prefix = 'lora-workspace-',
  at,
  dataset = 'data/demo',
  count = 4,
  sizePx = 64,
  extraFiles = {},
}: DemoWorkspaceOptions): Promise<string> {
  const workspace = at ?? mkdtempSync(join(tmpdir(), prefix));
  mkdirSync(join(workspace, 'models'), { recursive: true });
  copyFileSync(DEMO_MODEL, join(workspace, 'models', 'demo-sd1.safetensors'));
  for (const [target, source] of Object.entries(extraFiles)) {
    mkdirSync(join(workspace, target, '..'), { recursive: true });
    copyFileSync(source, join(workspace, target));
  }
  await writeSampleDataset({ dir: join(workspace, dataset), styles: ['jiangnan'], count, seed: 3, sizePx });
  return workspace;
}

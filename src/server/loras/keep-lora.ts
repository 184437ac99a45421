// `POST /api/jobs/{id}/keep`: copies a train job's intermediate LoRA next to its final one, atomically.
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { jobNotFound, type JobStore } from '../../store/index.js';
import { writeThroughTempFile } from '../../fs/atomic-write.js';
import { resolveInWorkspace } from '../security/index.js';
import { planKeep } from './keep-plan.js';
import { openLoraFile } from './lora-files.js';

const CHUNK_BYTES = 1 << 20;

export interface KeepOptions {
  store: JobStore;
  workspace: string;
  jobId: string;
  step: number;
}

/** The workspace path of the kept copy; the job's own file is only read. Keeping the same step again rewrites it. */
export async function keepTrainedLora({ store, workspace, jobId, step }: KeepOptions): Promise<string> {
  const job = await store.getJob(jobId);
  if (job === null) throw jobNotFound(jobId);
  // A running (or stopped) job's saved LoRAs are in its checkpoint updates before they are among its outputs.
  const updates = await store.readUpdates(jobId);
  const saved = updates.flatMap((update) => (update.type === 'checkpoint' ? [update.path] : []));
  const plan = planKeep({ ...job, outputs: [...new Set([...job.outputs, ...saved])] }, step);
  // The outputs are the job's record, but the file may have been removed or replaced since: it must still be a LoRA.
  const source = openLoraFile(workspace, plan.source, { shouldHash: false });
  if (plan.target === plan.source) return plan.target;
  copyAtomically(source.absolute, resolveInWorkspace(workspace, plan.target));
  return plan.target;
}

function copyAtomically(from: string, to: string): void {
  const input = openSync(from, 'r');
  try {
    writeThroughTempFile(to, (output) => {
      const chunk = Buffer.alloc(CHUNK_BYTES);
      for (;;) {
        const read = readSync(input, chunk, 0, CHUNK_BYTES, null);
        if (read === 0) return;
        for (let offset = 0; offset < read; ) offset += writeSync(output, chunk, offset, read - offset);
      }
    });
  } finally {
    closeSync(input);
  }
}

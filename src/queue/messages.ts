// What a worker tells the studio through the queue, parsed on arrival: there is no other channel between them.
import { z } from 'zod';
import { newJobUpdateSchema } from '../store/index.js';

/** The store's job progress (step, total, loss; extra keys pass through). */
const progressSchema = z.looseObject({
  step: z.number().int().nonnegative(),
  total: z.number().int().nonnegative(),
  loss: z.number().optional(),
});

/** The store's job error: what a failed job shows, and the dead-letter list's reason. */
export const failureReasonSchema = z.strictObject({
  code: z.string().min(1),
  message: z.string().min(1),
  hint: z.string().optional(),
});
export type FailureReason = z.infer<typeof failureReasonSchema>;

export const workerMessageSchema = z.discriminatedUnion('type', [
  /** A run of the job began on `worker`; `resumed` when it goes on from a run that died (its saved state). */
  z.strictObject({ type: z.literal('start'), worker: z.string().min(1), resumed: z.boolean() }),
  z.strictObject({ type: z.literal('log'), lines: z.array(z.string()), to_watchers: z.boolean() }),
  z.strictObject({ type: z.literal('progress'), progress: progressSchema }),
  z.strictObject({ type: z.literal('update'), update: newJobUpdateSchema }),
]);
export type WorkerMessage = z.infer<typeof workerMessageSchema>;

/** One `job.updateProgress(…)`: the messages of a short while, in the order the job made them. */
export const messageBatchSchema = z.strictObject({ messages: z.array(workerMessageSchema) });
export type MessageBatch = z.infer<typeof messageBatchSchema>;

/** What a run returns: finished with its files, or stopped (cancelled by a user; interrupted by a worker stopping). */
export const runResultSchema = z.discriminatedUnion('status', [
  z.strictObject({ status: z.literal('done'), outputs: z.array(z.string()) }),
  z.strictObject({ status: z.literal('cancelled') }),
  z.strictObject({ status: z.literal('interrupted') }),
]);
export type RunResult = z.infer<typeof runResultSchema>;

/**
 * A worker fails a BullMQ job with the JSON of its FailureReason as the message, so the studio and the dead-letter
 * list show the code and hint; anything else (BullMQ's own "job stalled more than allowable limit") is the message.
 */
export function failureReasonOf(failedReason: string | undefined): FailureReason {
  try {
    const parsed = failureReasonSchema.safeParse(JSON.parse(failedReason ?? ''));
    if (parsed.success) return parsed.data;
  } catch {
    // Not JSON: a reason BullMQ wrote itself.
  }
  if (failedReason?.includes('stalled more than allowable limit')) {
    return {
      code: 'worker_lost',
      message: 'the job lost its worker more often than LORA_SCRIPTS_QUEUE_MAX_STALLED allows',
      hint: "look in the workers' logs for why they died (out of memory?), then submit the job again",
    };
  }
  return { code: 'queue_failed', message: failedReason || 'the job failed on the queue without a reason' };
}

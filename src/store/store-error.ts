// The one error class of the job store: each code maps to one HTTP status in the coming server's http-errors.ts.
import { LoraScriptsError } from '../errors.js';

/**
 * Codes: `job_not_found` (404), `invalid_job`, `invalid_job_update` (400), `job_exists`, `illegal_job_transition`, `device_busy` (409),
 * `store_too_new` (the file was migrated by a newer lora-scripts).
 */
export class StoreError extends LoraScriptsError {}

export function jobNotFound(id: string): StoreError {
  return new StoreError('no such job', {
    code: 'job_not_found',
    culprit: `job \`${id}\``,
    hint: 'list the jobs with `GET /api/jobs` to find its id',
  });
}

// What a user may do to a job in each status (the server decides; the buttons only offer what it allows).
import type { JobStatus } from '../api/types.js';

export function canCancel(status: JobStatus): boolean {
  return status === 'queued' || status === 'running';
}

export function canResume(status: JobStatus): boolean {
  return status === 'interrupted';
}

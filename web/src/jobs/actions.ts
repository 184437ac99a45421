// What a user may do to a job in each status (the server decides; the buttons only offer what it allows).
import type { Job, JobStatus } from '../api/types.js';

export function canCancel(status: JobStatus): boolean {
  return status === 'queued' || status === 'running';
}

export function canResume(status: JobStatus): boolean {
  return status === 'interrupted';
}

/** What a job works on, in a word for the list: the dataset, the output name, the LoRA, the merged file. */
export function jobSubject(job: Pick<Job, 'kind' | 'config'>): string {
  const config = job.config;
  const text = (key: string) => (typeof config[key] === 'string' ? (config[key] as string) : undefined);
  const base = (path: string | undefined) => path?.replace(/\/+$/, '').split('/').pop();
  switch (job.kind) {
    case 'train':
      return text('output_name') ?? base(text('output_dir')) ?? base(text('train_data_dir')) ?? '';
    case 'prepare':
    case 'auto-label':
      return base(text('dataset')) ?? '';
    case 'generate':
      return base(text('lora')) ?? (Array.isArray(config.prompts) ? String(config.prompts[0] ?? '') : '');
    case 'merge':
      return base(text('output')) ?? '';
    default:
      return '';
  }
}

// The studio API's shapes as the web app reads them (docs: the API contract; server: src/server/schemas.ts).

export interface ApiErrorBody {
  code: string;
  message: string;
  hint?: string;
  field?: string;
}

export type JobKind = 'prepare' | 'auto-label' | 'train' | 'generate' | 'merge';
export type JobStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled' | 'interrupted';
export const FINISHED_STATUSES: readonly JobStatus[] = ['done', 'failed', 'cancelled', 'interrupted'];

export interface Job {
  id: string;
  kind: JobKind;
  status: JobStatus;
  device: string;
  config: Record<string, unknown>;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  progress: { step: number; total: number; loss?: number; [key: string]: unknown } | null;
  error: ApiErrorBody | null;
  outputs: string[];
  resume_from: string | null;
  attempts: number;
}

export interface LogLine {
  line_no: number;
  text: string;
}

interface EventBase {
  seq: number;
  at: string;
}
export type JobEvent = EventBase &
  (
    | {
        type: 'progress';
        step: number;
        total_steps: number;
        epoch?: number;
        loss: number;
        loss_smoothed?: number;
        lr?: number;
        step_ms?: number;
        eta_s?: number | null;
      }
    | { type: 'sample'; step: number; prompt: string; path: string }
    | { type: 'checkpoint'; step: number; path: string; is_final: boolean }
    | { type: 'validation'; step: number; loss: number; images: number }
    | { type: 'finding'; code: string; step: number; message: string; hint?: string }
    | { type: 'warning'; code: string; message: string; hint: string | null }
    | { type: 'log'; lines: string[] }
    | { type: 'status'; status: JobStatus; error: ApiErrorBody | null; outputs: string[] }
  );

export interface DatasetSummary {
  name: string;
  path: string;
  images: number;
  captioned: number;
  trigger_word: string | null;
  updated_at: string;
}

export interface DatasetImage {
  file: string;
  path: string;
  caption: string | null;
  width: number;
  height: number;
  bytes: number;
}

export interface Dataset {
  name: string;
  path: string;
  trigger_word: string | null;
  images: DatasetImage[];
}

export interface LintFinding {
  rule: string;
  severity: 'error' | 'warning' | 'info';
  message: string;
  hint?: string;
}
export interface Lint {
  findings: LintFinding[];
  tokens: { count: number; limit: number };
}

export interface UploadResult {
  dataset: DatasetSummary;
  added: string[];
  skipped: { file: string; reason: string }[];
}

export interface PrepareReason {
  code: string;
  message: string;
  hint?: string;
}
export interface PrepareReport {
  job_id: string;
  images: { file: string; path: string; status: 'ok' | 'warning' | 'excluded'; reasons: PrepareReason[] }[];
  summary: Record<string, unknown>;
}

export interface ConfigField {
  key: string;
  group: string;
  type: 'string' | 'number' | 'integer' | 'boolean' | 'enum' | 'path' | 'list';
  default: unknown;
  help: string;
  choices?: (string | number)[];
  min?: number;
  max?: number;
  accepts_auto: boolean;
  required: boolean;
  /** Named values a list field also takes as a whole (`attention+ff`). */
  presets?: string[];
  /** `min` itself is not allowed. */
  min_exclusive?: boolean;
  /** null is allowed and means the derived default. */
  nullable?: boolean;
  /** How a null default is worked out ("2 × `lora_rank`"), or null. */
  derived_default?: string | null;
  example?: string | null;
}

export interface PreflightProblem {
  field: string;
  code: string;
  message: string;
  hint?: string;
  blocking: boolean;
}
export interface Preflight {
  ok: boolean;
  problems: PreflightProblem[];
  auto: { key: string; value: unknown; reason: string }[];
  estimate: {
    steps: number | null;
    seconds: number | null;
    memory_mib: number | null;
    device: string;
    notes?: string[];
  };
}

export interface LoraSummary {
  path: string;
  name: string;
  bytes: number;
  modified_at: string;
  format: 'kohya' | 'diffusers';
  family: string;
  rank: number | null;
  steps: number | null;
  base_model: string | null;
  job_id: string | null;
}

// LoRAs: the list, each one's report, a strength grid, a side-by-side compare of two, downloads, merge.
import { useState } from 'preact/hooks';
import { api, type Job, type LoraSummary } from '../api/index.js';
import { ErrorBox } from '../components/error-box.js';
import { StatusBadge } from '../components/status-badge.js';
import { useJobWatch, useLoad } from '../components/use-async.js';
import { formatBytes, formatTime, useI18n } from '../i18n/index.js';
import { Outputs } from './job.js';
import { TextField } from '../components/text-field.js';

const DEFAULT_STRENGTHS = '0, 0.25, 0.5, 0.75, 1';

/**
 * A LoRA's `base_model` is the name it was trained on (`sd15.safetensors`), not a workspace path: renders leave it out
 * (the server finds that model in the workspace); a merge, which needs a path, starts from `models/<name>`.
 */
export function guessBaseModelPath(name: string | null): string {
  if (name === null || name === '' || name.includes('/')) return name ?? '';
  return `models/${name}`;
}

export function parseStrengths(text: string): number[] {
  return text
    .split(/[,\s，、]+/)
    .filter((part) => part !== '')
    .map(Number)
    .filter((value) => Number.isFinite(value));
}

/** The optional sampling steps and square size of a render; empty fields leave the server's defaults. */
export function renderOptions(steps: string, size: string): Record<string, number> {
  const options: Record<string, number> = {};
  if (steps.trim() !== '') options.steps = Number(steps);
  if (size.trim() !== '') {
    options.width = Number(size);
    options.height = Number(size);
  }
  return options;
}

export function LorasPage() {
  const { t, language } = useI18n();
  const list = useLoad(() => api<{ loras: LoraSummary[] }>('/api/loras'), []);
  const [open, setOpen] = useState<{ path: string; panel: 'inspect' | 'grid' | 'merge' } | null>(null);
  const [compare, setCompare] = useState<string[]>([]);
  const loras = list.data?.loras ?? [];
  const byPath = new Map(loras.map((lora) => [lora.path, lora]));
  const toggleCompare = (path: string, on: boolean) =>
    setCompare((current) =>
      on ? [...current.filter((p) => p !== path), path].slice(-2) : current.filter((p) => p !== path),
    );

  return (
    <section aria-labelledby="loras-title">
      <h1 id="loras-title">{t('loras.title')}</h1>
      <ErrorBox error={list.error} />
      {list.data && loras.length === 0 ? <p class="muted">{t('loras.empty')}</p> : null}
      {loras.length > 0 ? (
        <>
          <p class="muted">{t('loras.compareHelp')}</p>
          <table>
            <thead>
              <tr>
                <th scope="col">
                  <span class="visually-hidden">{t('loras.compare')}</span>
                </th>
                <th scope="col">{t('loras.col.name')}</th>
                <th scope="col">{t('loras.col.format')}</th>
                <th scope="col">{t('loras.col.rank')}</th>
                <th scope="col">{t('loras.col.steps')}</th>
                <th scope="col">{t('loras.col.size')}</th>
                <th scope="col">{t('loras.col.modified')}</th>
                <th scope="col">{t('jobs.col.actions')}</th>
              </tr>
            </thead>
            <tbody>
              {loras.map((lora) => (
                <LoraRow
                  key={lora.path}
                  lora={lora}
                  language={language}
                  selected={compare.includes(lora.path)}
                  onSelect={(on) => toggleCompare(lora.path, on)}
                  onOpen={(panel) =>
                    setOpen((current) =>
                      current?.path === lora.path && current.panel === panel ? null : { path: lora.path, panel },
                    )
                  }
                />
              ))}
            </tbody>
          </table>
        </>
      ) : null}
      {open && byPath.get(open.path) ? (
        <div class="card" data-panel={open.panel}>
          <h2>
            {byPath.get(open.path)!.name}:{' '}
            {t(open.panel === 'inspect' ? 'loras.inspect' : open.panel === 'grid' ? 'loras.grid' : 'loras.merge')}
          </h2>
          {open.panel === 'inspect' ? <Inspect path={open.path} /> : null}
          {open.panel === 'grid' ? <StrengthGrid lora={byPath.get(open.path)!} /> : null}
          {open.panel === 'merge' ? <Merge lora={byPath.get(open.path)!} /> : null}
        </div>
      ) : null}
      {compare.length === 2 ? <Compare a={byPath.get(compare[0]!)} b={byPath.get(compare[1]!)} /> : null}
    </section>
  );
}

function LoraRow({
  lora,
  language,
  selected,
  onSelect,
  onOpen,
}: {
  lora: LoraSummary;
  language: Parameters<typeof formatTime>[0];
  selected: boolean;
  onSelect: (on: boolean) => void;
  onOpen: (panel: 'inspect' | 'grid' | 'merge') => void;
}) {
  const { t } = useI18n();
  const download = (format: 'kohya' | 'diffusers') =>
    `/api/loras/download?path=${encodeURIComponent(lora.path)}&format=${format}`;
  return (
    <tr data-lora={lora.path}>
      <td>
        <input
          type="checkbox"
          checked={selected}
          aria-label={t('loras.select', { name: lora.name })}
          onChange={(e) => onSelect(e.currentTarget.checked)}
        />
      </td>
      <td>
        <strong>{lora.name}</strong>
        <br />
        <code class="muted">{lora.path}</code>
      </td>
      <td>{lora.format}</td>
      <td>{lora.rank ?? '—'}</td>
      <td>{lora.steps ?? '—'}</td>
      <td>{formatBytes(lora.bytes)}</td>
      <td>{formatTime(language, lora.modified_at)}</td>
      <td class="actions">
        <button type="button" onClick={() => onOpen('inspect')}>
          {t('loras.inspect')}
        </button>
        <button type="button" onClick={() => onOpen('grid')}>
          {t('loras.grid')}
        </button>
        <button type="button" onClick={() => onOpen('merge')}>
          {t('loras.merge')}
        </button>
        <span>
          {t('loras.download')}:{' '}
          <a href={download('kohya')} download data-format="kohya">
            {t('loras.downloadKohya')}
          </a>{' '}
          ·{' '}
          <a href={download('diffusers')} download data-format="diffusers">
            {t('loras.downloadDiffusers')}
          </a>
        </span>
      </td>
    </tr>
  );
}

function Inspect({ path }: { path: string }) {
  const { t } = useI18n();
  const report = useLoad(
    () => api<Record<string, unknown>>(`/api/loras/inspect?path=${encodeURIComponent(path)}`),
    [path],
  );
  if (report.error) return <ErrorBox error={report.error} />;
  if (!report.data) return <p class="muted">{t('common.loading')}</p>;
  const scalars = Object.entries(report.data).filter(([, value]) => value === null || typeof value !== 'object');
  const nested = Object.entries(report.data).filter(([, value]) => value !== null && typeof value === 'object');
  return (
    <div data-testid="inspect">
      <dl class="facts">
        {scalars.map(([key, value]) => (
          <div key={key}>
            <dt>{key}</dt>
            <dd>{String(value)}</dd>
          </div>
        ))}
      </dl>
      {nested.map(([key, value]) => (
        <details key={key}>
          <summary>{key}</summary>
          <pre class="log">{JSON.stringify(value, null, 2)}</pre>
        </details>
      ))}
    </div>
  );
}

/** Starts a generate or merge job from a form and shows it until it ends: its status, error or results. */
function useJobLauncher() {
  const [jobId, setJobId] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const watch = useJobWatch(jobId);
  const launch = async (kind: 'generate' | 'merge', config: Record<string, unknown>) => {
    setError(null);
    setJobId(null);
    try {
      const job = await api<Job>('/api/jobs', { json: { kind, config } });
      setJobId(job.id);
    } catch (caught) {
      setError(caught);
    }
  };
  return {
    launch,
    job: watch.job,
    error: error ?? watch.error,
    busy: jobId !== null && watch.job?.finished_at == null,
  };
}

function JobResult({ job }: { job: Job | null }) {
  const { t } = useI18n();
  if (!job) return null;
  return (
    <div class="job-result" data-status={job.status}>
      <p>
        {t(`kind.${job.kind}`)} <StatusBadge status={job.status} />
        {job.progress ? ` ${job.progress.step}/${job.progress.total}` : ''}
      </p>
      {job.status === 'failed' ? <ErrorBox error={job.error ?? { code: 'unknown' }} /> : null}
      {job.status === 'done' ? <Outputs outputs={job.outputs} /> : null}
    </div>
  );
}

function StrengthGrid({ lora }: { lora: LoraSummary }) {
  const { t } = useI18n();
  const [prompts, setPrompts] = useState('');
  const [strengths, setStrengths] = useState(DEFAULT_STRENGTHS);
  const [seed, setSeed] = useState('1');
  const [baseModel, setBaseModel] = useState('');
  const [steps, setSteps] = useState('');
  const [size, setSize] = useState('');
  const { launch, job, error, busy } = useJobLauncher();
  const submit = (event: Event) => {
    event.preventDefault();
    const promptList = prompts
      .split('\n')
      .map((p) => p.trim())
      .filter(Boolean);
    void launch('generate', {
      prompts: promptList,
      lora: lora.path,
      strengths: parseStrengths(strengths),
      seeds: [Number(seed) || 0],
      ...(baseModel.trim() === '' ? {} : { base_model: baseModel.trim() }),
      ...renderOptions(steps, size),
    });
  };
  return (
    <form onSubmit={submit} data-testid="strength-grid">
      <p class="muted">{t('loras.gridHelp')}</p>
      <div class="field">
        <label for="grid-prompts">{t('loras.prompts')}</label>
        <textarea
          id="grid-prompts"
          rows={3}
          required
          value={prompts}
          onInput={(e) => setPrompts(e.currentTarget.value)}
        />
      </div>
      <div class="row">
        <TextField id="grid-strengths" label={t('loras.strengths')} value={strengths} onValue={setStrengths} />
        <TextField id="grid-seed" label={t('loras.seed')} value={seed} onValue={setSeed} numeric />
        <TextField
          id="grid-base"
          label={t('loras.baseModel')}
          value={baseModel}
          onValue={setBaseModel}
          placeholder={lora.base_model ?? ''}
        />
        <TextField id="grid-steps" label={t('loras.steps')} value={steps} onValue={setSteps} placeholder="20" numeric />
        <TextField id="grid-size" label={t('loras.size')} value={size} onValue={setSize} placeholder="512" numeric />
      </div>
      <button type="submit" class="primary" disabled={busy}>
        {busy ? t('loras.rendering') : t('loras.render')}
      </button>
      <ErrorBox error={error} />
      <JobResult job={job} />
    </form>
  );
}

function Merge({ lora }: { lora: LoraSummary }) {
  const { t } = useI18n();
  const [baseModel, setBaseModel] = useState(guessBaseModelPath(lora.base_model));
  const [strength, setStrength] = useState('1');
  const [output, setOutput] = useState(`output/merged/${lora.name}-merged.safetensors`);
  const { launch, job, error, busy } = useJobLauncher();
  const submit = (event: Event) => {
    event.preventDefault();
    void launch('merge', { base_model: baseModel, loras: [{ path: lora.path, strength: Number(strength) }], output });
  };
  return (
    <form onSubmit={submit}>
      <div class="row">
        <TextField id="merge-base" label={t('loras.baseModel')} value={baseModel} onValue={setBaseModel} required />
        <div class="field">
          <label for="merge-strength">{t('loras.mergeStrength')}</label>
          <input
            id="merge-strength"
            inputMode="decimal"
            value={strength}
            onInput={(e) => setStrength(e.currentTarget.value)}
          />
        </div>
        <TextField id="merge-output" label={t('loras.mergeOutput')} value={output} onValue={setOutput} />
      </div>
      <button type="submit" class="primary" disabled={busy}>
        {t('loras.mergeStart')}
      </button>
      <ErrorBox error={error} />
      <JobResult job={job} />
    </form>
  );
}

/** Two LoRAs side by side: their facts, and the same prompt and seed rendered with each at full strength. */
function Compare({ a, b }: { a: LoraSummary | undefined; b: LoraSummary | undefined }) {
  const { t } = useI18n();
  const [prompt, setPrompt] = useState('');
  const [steps, setSteps] = useState('');
  const [size, setSize] = useState('');
  const left = useJobLauncher();
  const right = useJobLauncher();
  if (!a || !b) return null;
  const render = (event: Event) => {
    event.preventDefault();
    for (const [lora, side] of [
      [a, left],
      [b, right],
    ] as const) {
      void side.launch('generate', {
        prompts: [prompt],
        lora: lora.path,
        strengths: [1],
        seeds: [1],
        ...renderOptions(steps, size),
      });
    }
  };
  return (
    <section class="card" aria-labelledby="compare-title" data-testid="compare">
      <h2 id="compare-title">{t('loras.compare')}</h2>
      <form onSubmit={render} class="row">
        <TextField id="compare-prompt" label={t('job.prompt')} value={prompt} onValue={setPrompt} required grow />
        <TextField
          id="compare-steps"
          label={t('loras.steps')}
          value={steps}
          onValue={setSteps}
          placeholder="20"
          numeric
        />
        <TextField id="compare-size" label={t('loras.size')} value={size} onValue={setSize} placeholder="512" numeric />
        <button type="submit" class="primary" disabled={left.busy || right.busy}>
          {t('loras.render')}
        </button>
      </form>
      <div class="columns">
        {[
          [a, left],
          [b, right],
        ].map(([lora, side]) => {
          const l = lora as LoraSummary;
          const s = side as ReturnType<typeof useJobLauncher>;
          return (
            <div key={l.path}>
              <h3>{l.name}</h3>
              <dl class="facts">
                <div>
                  <dt>{t('loras.col.format')}</dt>
                  <dd>{l.format}</dd>
                </div>
                <div>
                  <dt>{t('loras.col.rank')}</dt>
                  <dd>{l.rank ?? '—'}</dd>
                </div>
                <div>
                  <dt>{t('loras.col.steps')}</dt>
                  <dd>{l.steps ?? '—'}</dd>
                </div>
                <div>
                  <dt>{t('loras.baseModel')}</dt>
                  <dd>{l.base_model ?? '—'}</dd>
                </div>
              </dl>
              <ErrorBox error={s.error} />
              <JobResult job={s.job} />
            </div>
          );
        })}
      </div>
    </section>
  );
}

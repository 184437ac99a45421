// One dataset: its pictures with the check's verdicts, caption editing, find-and-replace, trigger word, auto-label.
import { useState } from 'preact/hooks';
import { ApiError, api, type Dataset, fileUrl, type Job, type PrepareReport } from '../api/index.js';
import { ErrorBox } from '../components/error-box.js';
import { useJobWatch, useLoad } from '../components/use-async.js';
import { CaptionEditor } from '../datasets/caption-editor.js';
import { UploadButtons } from '../datasets/upload.js';
import { useI18n } from '../i18n/index.js';
import { navigate } from '../router.js';
import { TextField } from '../components/text-field.js';

type ReportImage = PrepareReport['images'][number];
const CHECK_SIZES = [512, 768, 1024] as const;

export function DatasetPage({ name }: { name: string }) {
  const { t } = useI18n();
  const base = `/api/datasets/${encodeURIComponent(name)}`;
  const dataset = useLoad(() => api<Dataset>(base), [name]);
  const report = useLoad(
    () =>
      api<PrepareReport>(`${base}/report`).catch((error: unknown) => {
        if (error instanceof ApiError && error.code === 'no_report') return null;
        throw error;
      }),
    [name],
  );
  const [onlyFlagged, setOnlyFlagged] = useState(false);
  /** The size the pictures will train at: the check flags those that would need too much upscaling. */
  const [checkSize, setCheckSize] = useState('');
  const [running, setRunning] = useState<{ id: string; kind: 'prepare' | 'auto-label' } | null>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const watch = useJobWatch(running?.id ?? null, (job) => {
    setRunning(null);
    if (job.status !== 'done') setActionError(job.error ?? { code: job.status });
    dataset.reload();
    report.reload();
  });

  const startJob = async (kind: 'prepare' | 'auto-label') => {
    setActionError(null);
    const path = dataset.data?.path ?? `datasets/${name}`;
    const config: Record<string, unknown> = { dataset: path };
    if (kind === 'prepare' && checkSize !== '') config.target = Number(checkSize);
    if (kind === 'auto-label' && dataset.data?.trigger_word) config.trigger_word = dataset.data.trigger_word;
    try {
      const job = await api<Job>('/api/jobs', { json: { kind, config } });
      setRunning({ id: job.id, kind });
    } catch (caught) {
      setActionError(caught);
    }
  };

  if (dataset.error && !dataset.data) return <ErrorBox error={dataset.error} />;
  if (!dataset.data) return <p class="muted">{t('common.loading')}</p>;
  const data = dataset.data;
  const verdicts = new Map<string, ReportImage>((report.data?.images ?? []).map((image) => [image.file, image]));
  const captioned = data.images.filter((image) => image.caption !== null && image.caption !== '').length;
  const shown = onlyFlagged
    ? data.images.filter((image) => (verdicts.get(image.file)?.status ?? 'ok') !== 'ok')
    : data.images;

  return (
    <section aria-labelledby="dataset-title">
      <h1 id="dataset-title">{data.name}</h1>
      <p class="muted">{t('dataset.pictures', { images: data.images.length, captioned })}</p>

      <div class="toolbar">
        <label class="check">
          {t('dataset.checkSize')}
          <select value={checkSize} onChange={(e) => setCheckSize(e.currentTarget.value)}>
            <option value="">{t('dataset.checkSizeDefault')}</option>
            {CHECK_SIZES.map((size) => (
              <option key={size} value={String(size)}>
                {size} px
              </option>
            ))}
          </select>
        </label>
        <button type="button" onClick={() => startJob('prepare')} disabled={running !== null}>
          {t('dataset.check')}
        </button>
        <button
          type="button"
          onClick={() => startJob('auto-label')}
          disabled={running !== null}
          title={t('dataset.autoLabelHelp')}
        >
          {t('dataset.autoLabel')}
        </button>
        <button
          type="button"
          class="primary"
          onClick={() => navigate(`/train/new?dataset=${encodeURIComponent(data.path)}`)}
        >
          {t('dataset.train')}
        </button>
        <span aria-live="polite" class="muted">
          {running ? t(running.kind === 'prepare' ? 'dataset.checking' : 'dataset.autoLabeling') : null}
          {watch.job?.progress ? ` ${watch.job.progress.step}/${watch.job.progress.total}` : null}
        </span>
      </div>
      <ErrorBox error={actionError ?? watch.error} />

      <div class="columns">
        <TriggerWord name={name} value={data.trigger_word} onSaved={dataset.reload} />
        <FindReplace name={name} onApplied={dataset.reload} />
      </div>

      <details class="card">
        <summary>{t('dataset.addMore')}</summary>
        <UploadButtons prepare={async () => name} onUploaded={() => dataset.reload()} />
      </details>

      <h2>{t('dataset.report.title')}</h2>
      <ErrorBox error={report.error} />
      {report.data ? (
        <>
          <p data-testid="report-summary">{t('dataset.report.summary', countStatuses(report.data))}</p>
          <label class="check">
            <input type="checkbox" checked={onlyFlagged} onChange={(e) => setOnlyFlagged(e.currentTarget.checked)} />
            {t('dataset.report.onlyFlagged')}
          </label>
        </>
      ) : (
        <p class="muted">{t('dataset.report.none')}</p>
      )}

      {data.images.length === 0 ? <p class="muted">{t('dataset.empty')}</p> : null}
      <ul class="picture-grid">
        {shown.map((image) => {
          const verdict = verdicts.get(image.file);
          return (
            <li key={image.file} class={`picture status-${verdict?.status ?? 'unchecked'}`} data-file={image.file}>
              <a href={fileUrl(image.path)} target="_blank" rel="noreferrer">
                <img
                  src={fileUrl(image.path, 256)}
                  alt={image.file}
                  loading="lazy"
                  width={Math.min(256, image.width)}
                  height={Math.round(Math.min(256, image.width) * (image.height / Math.max(1, image.width)))}
                />
              </a>
              <div class="picture-head">
                <code>{image.file}</code>
                <span class="muted">
                  {image.width}×{image.height}
                </span>
                {verdict ? (
                  <span class={`badge verdict-${verdict.status}`} data-verdict={verdict.status}>
                    {t(`dataset.status.${verdict.status}`)}
                  </span>
                ) : null}
              </div>
              {verdict && verdict.reasons.length > 0 ? (
                <ul class="reasons">
                  {verdict.reasons.map((reason) => (
                    <li key={reason.code} data-code={reason.code}>
                      {reason.message}
                      {reason.hint ? <span class="muted"> — {reason.hint}</span> : null}
                    </li>
                  ))}
                </ul>
              ) : null}
              <CaptionEditor
                // Remounted when the server's caption changes (auto-label, replace), so the editor shows it.
                key={`${image.file}\n${image.caption ?? ''}`}
                dataset={name}
                file={image.file}
                caption={image.caption}
                onSaved={() => {}}
              />
            </li>
          );
        })}
      </ul>
    </section>
  );
}

function countStatuses(report: PrepareReport) {
  const counts = { ok: 0, warning: 0, excluded: 0 };
  for (const image of report.images) counts[image.status] += 1;
  return counts;
}

function TriggerWord({ name, value, onSaved }: { name: string; value: string | null; onSaved: () => void }) {
  const { t } = useI18n();
  const [text, setText] = useState(value ?? '');
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  const save = async (event: Event) => {
    event.preventDefault();
    setError(null);
    try {
      await api(`/api/datasets/${encodeURIComponent(name)}/settings`, {
        method: 'PUT',
        json: { trigger_word: text.trim() === '' ? null : text.trim() },
      });
      setSaved(true);
      onSaved();
    } catch (caught) {
      setError(caught);
    }
  };
  return (
    <form class="card" onSubmit={save}>
      <div class="field">
        <label for="trigger-word">{t('dataset.trigger')}</label>
        <input
          id="trigger-word"
          value={text}
          aria-describedby="trigger-help"
          onInput={(e) => {
            setText(e.currentTarget.value);
            setSaved(false);
          }}
        />
        <p id="trigger-help" class="help">
          {t('dataset.triggerHelp')}
        </p>
      </div>
      <button type="submit">{t('common.save')}</button> {saved ? <span class="muted">{t('common.saved')}</span> : null}
      <ErrorBox error={error} />
    </form>
  );
}

function FindReplace({ name, onApplied }: { name: string; onApplied: () => void }) {
  const { t } = useI18n();
  const [find, setFind] = useState('');
  const [replace, setReplace] = useState('');
  const [changes, setChanges] = useState<{ file: string; before: string; after: string }[] | null>(null);
  const [applied, setApplied] = useState<number | null>(null);
  const [error, setError] = useState<unknown>(null);
  const run = async (dryRun: boolean) => {
    setError(null);
    setApplied(null);
    try {
      const result = await api<{ changed: { file: string; before: string; after: string }[] }>(
        `/api/datasets/${encodeURIComponent(name)}/replace`,
        { json: { find, replace, dry_run: dryRun } },
      );
      if (dryRun) setChanges(result.changed);
      else {
        setChanges(null);
        setApplied(result.changed.length);
        onApplied();
      }
    } catch (caught) {
      setError(caught);
    }
  };
  return (
    <form
      class="card"
      aria-labelledby="replace-title"
      onSubmit={(e) => {
        e.preventDefault();
        void run(true);
      }}
    >
      <h2 id="replace-title">{t('dataset.replace.title')}</h2>
      <div class="row">
        <div class="field">
          <label for="replace-find">{t('dataset.replace.find')}</label>
          <input id="replace-find" value={find} onInput={(e) => setFind(e.currentTarget.value)} />
        </div>
        <TextField id="replace-with" label={t('dataset.replace.with')} value={replace} onValue={setReplace} />
      </div>
      <div class="row">
        <button type="submit" disabled={find === ''}>
          {t('dataset.replace.preview')}
        </button>
        <button type="button" disabled={find === ''} onClick={() => run(false)}>
          {t('dataset.replace.apply')}
        </button>
      </div>
      <p aria-live="polite">
        {changes ? t('dataset.replace.changes', { count: changes.length }) : null}
        {applied !== null ? t('dataset.replace.done', { count: applied }) : null}
      </p>
      {changes && changes.length > 0 ? (
        <ul class="diff">
          {changes.slice(0, 50).map((change) => (
            <li key={change.file}>
              <code>{change.file}</code>: <del>{change.before}</del> → <ins>{change.after}</ins>
            </li>
          ))}
        </ul>
      ) : null}
      <ErrorBox error={error} />
    </form>
  );
}

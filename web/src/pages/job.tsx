// One job: a training live (chart, speed, samples, findings, checkpoints to keep), any other job's results; the log.
import { useState } from 'preact/hooks';
import { api, fileUrl, FINISHED_STATUSES, type Job } from '../api/index.js';
import { ErrorBox } from '../components/error-box.js';
import { JobLog } from '../components/job-log.js';
import { LossChart } from '../components/loss-chart.js';
import { StatusBadge } from '../components/status-badge.js';
import { formatDuration, useI18n } from '../i18n/index.js';
import { canCancel, canResume } from '../jobs/actions.js';
import { useTrainingStream } from '../training/use-training-stream.js';
import { itemsPerSecond, type TrainingView } from '../training/view-state.js';

export function JobPage({ id }: { id: string }) {
  const { t, language, explainFinding } = useI18n();
  const { view, job, error } = useTrainingStream(id);
  const [actionError, setActionError] = useState<unknown>(null);
  const status = view.status ?? job?.status ?? null;

  const act = async (action: 'cancel' | 'resume') => {
    setActionError(null);
    try {
      await api(`/api/jobs/${encodeURIComponent(id)}/${action}`, { method: 'POST' });
    } catch (caught) {
      setActionError(caught);
    }
  };

  if (!job && error) return <ErrorBox error={error} />;
  if (!job || status === null) return <p class="muted">{t('common.loading')}</p>;
  const rate = itemsPerSecond(view.stepMs);
  const isTrain = job.kind === 'train';

  return (
    <section aria-labelledby="job-title" data-status={status}>
      <h1 id="job-title">
        {t('job.title', { kind: t(`kind.${job.kind}`), id: id.slice(0, 8) })} <StatusBadge status={status} />
      </h1>

      <div class="status-line" aria-live="polite">
        {view.totalSteps > 0 ? (
          <>
            <progress max={view.totalSteps} value={view.step} />
            <span data-testid="steps">{t('job.steps', { step: view.step, total: view.totalSteps })}</span>
          </>
        ) : null}
        {view.epoch !== null ? <span>{t('job.epoch', { epoch: view.epoch })}</span> : null}
        {rate !== null && status === 'running' ? <span>{t('job.speed', { rate: rate.toFixed(2) })}</span> : null}
        {view.etaS !== null && status === 'running' ? (
          <span>{t('job.eta', { time: formatDuration(language, view.etaS) })}</span>
        ) : null}
        {canCancel(status) ? (
          <button type="button" onClick={() => act('cancel')}>
            {t('jobs.cancel')}
          </button>
        ) : null}
        {canResume(status) ? (
          <button type="button" class="primary" onClick={() => act('resume')}>
            {t('jobs.resume')}
          </button>
        ) : null}
      </div>
      <ErrorBox error={actionError} />
      <Outcome status={status} error={view.error ?? job.error} />

      {view.findings.length > 0 ? (
        <section aria-labelledby="findings-title">
          <h2 id="findings-title">{t('job.findings')}</h2>
          <ul class="cards">
            {view.findings.map((finding, index) => {
              const explained = explainFinding(finding);
              return (
                <li key={`${finding.code}-${index}`} class="card finding" data-code={finding.code}>
                  <p>
                    <strong>{explained.message}</strong>{' '}
                    <span class="muted">
                      ({t('common.step')} {finding.step})
                    </span>
                  </p>
                  {explained.action ? (
                    <p>
                      {t('common.whatToDo')}: {explained.action}
                    </p>
                  ) : null}
                  {explained.detail ? <p class="muted">{explained.detail}</p> : null}
                </li>
              );
            })}
          </ul>
        </section>
      ) : null}
      {view.warnings.length > 0 ? (
        <section aria-labelledby="warnings-title">
          <h2 id="warnings-title">{t('job.warnings')}</h2>
          <ul>
            {view.warnings.map((warning, index) => (
              <li key={`${warning.code}-${index}`}>
                {warning.message}
                {warning.hint ? <span class="muted"> — {warning.hint}</span> : null}
              </li>
            ))}
          </ul>
        </section>
      ) : null}

      {isTrain ? (
        <>
          {/* A run that ended before its first step has nothing to chart: the outcome above says why. */}
          {view.points.length > 0 || !FINISHED_STATUSES.includes(status) ? (
            <LossChart points={view.points} validation={view.validation} />
          ) : null}
          {view.samples.prompts.length > 0 || !FINISHED_STATUSES.includes(status) ? (
            <Samples samples={view.samples} />
          ) : null}
          <Checkpoints jobId={id} checkpoints={view.checkpoints} />
        </>
      ) : (
        <Outputs outputs={view.outputs.length > 0 ? view.outputs : job.outputs} />
      )}
      <JobLog jobId={id} live={!FINISHED_STATUSES.includes(status)} />
    </section>
  );
}

/** How the job ended, as a sentence: a failure is never shown as done, and says what to do. */
function Outcome({ status, error }: { status: Job['status']; error: Job['error'] }) {
  const { t } = useI18n();
  if (status === 'failed') {
    return (
      <div data-testid="outcome" data-outcome="failed">
        <p>
          <strong>{t('job.failed')}</strong>
        </p>
        <ErrorBox error={error ?? { code: 'unknown' }} />
      </div>
    );
  }
  if (status === 'interrupted' || status === 'cancelled') {
    return (
      <p class="notice" data-testid="outcome" data-outcome={status}>
        {t(status === 'interrupted' ? 'job.interrupted' : 'job.cancelled')}
      </p>
    );
  }
  if (status === 'queued')
    return (
      <p class="muted" data-testid="outcome" data-outcome="queued">
        {t('job.queued')}
      </p>
    );
  if (status === 'done')
    return (
      <p class="ok" data-testid="outcome" data-outcome="done">
        {t('job.done')}
      </p>
    );
  return null;
}

function Samples({ samples }: { samples: TrainingView['samples'] }) {
  const { t } = useI18n();
  return (
    <section aria-labelledby="samples-title">
      <h2 id="samples-title">{t('job.samples')}</h2>
      {samples.prompts.length === 0 ? (
        <p class="muted">{t('job.samplesEmpty')}</p>
      ) : (
        <div class="scroll-x">
          <table class="sample-grid" data-testid="samples">
            <thead>
              <tr>
                <th scope="col">{t('job.prompt')}</th>
                {samples.steps.map((step) => (
                  <th scope="col" key={step}>
                    {t('common.step')} {step}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {samples.prompts.map((prompt) => (
                <tr key={prompt}>
                  <th scope="row" class="prompt">
                    {prompt}
                  </th>
                  {samples.steps.map((step) => {
                    const path = samples.images[prompt]?.[step];
                    return (
                      <td key={step}>
                        {path ? (
                          <a href={fileUrl(path)} target="_blank" rel="noreferrer">
                            <img
                              src={fileUrl(path, 256)}
                              alt={`${prompt} — ${t('common.step')} ${step}`}
                              loading="lazy"
                            />
                          </a>
                        ) : null}
                      </td>
                    );
                  })}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function Checkpoints({ jobId, checkpoints }: { jobId: string; checkpoints: TrainingView['checkpoints'] }) {
  const { t } = useI18n();
  const [kept, setKept] = useState<Record<number, string>>({});
  const [error, setError] = useState<unknown>(null);
  if (checkpoints.length === 0) return null;
  const keep = async (step: number) => {
    setError(null);
    try {
      const { path } = await api<{ path: string }>(`/api/jobs/${encodeURIComponent(jobId)}/keep`, { json: { step } });
      setKept((all) => ({ ...all, [step]: path }));
    } catch (caught) {
      setError(caught);
    }
  };
  return (
    <section aria-labelledby="checkpoints-title">
      <h2 id="checkpoints-title">{t('job.checkpoints')}</h2>
      <ErrorBox error={error} />
      <ul class="checkpoints">
        {checkpoints.map((checkpoint) => (
          <li key={checkpoint.step} data-step={checkpoint.step}>
            <span>
              {t('common.step')} {checkpoint.step}
              {checkpoint.isFinal ? ` (${t('job.final')})` : ''}
            </span>{' '}
            <code>{checkpoint.path}</code>{' '}
            {kept[checkpoint.step] ? (
              <span class="ok" role="status">
                {t('job.kept', { path: kept[checkpoint.step]! })}
              </span>
            ) : checkpoint.isFinal ? null : (
              <button type="button" onClick={() => keep(checkpoint.step)}>
                {t('job.keep')}
              </button>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}

const IMAGE = /\.(png|jpe?g|webp)$/i;

export function Outputs({ outputs }: { outputs: string[] }) {
  const { t } = useI18n();
  if (outputs.length === 0) return null;
  const images = outputs.filter((path) => IMAGE.test(path));
  const others = outputs.filter((path) => !IMAGE.test(path));
  return (
    <section aria-labelledby="outputs-title">
      <h2 id="outputs-title">{t('job.outputs')}</h2>
      <div class="image-row">
        {images.map((path) => (
          <figure key={path}>
            <a href={fileUrl(path)} target="_blank" rel="noreferrer">
              <img src={fileUrl(path, 512)} alt={path} loading="lazy" />
            </a>
            <figcaption class="muted">{path.slice(path.lastIndexOf('/') + 1)}</figcaption>
          </figure>
        ))}
      </div>
      <ul>
        {others.map((path) => (
          <li key={path}>
            <a href={fileUrl(path)} download>
              {path}
            </a>
          </li>
        ))}
      </ul>
    </section>
  );
}

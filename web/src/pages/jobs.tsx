// Jobs: every job newest first, refreshed while any is active; cancel a running one, resume an interrupted one.
import { useEffect, useState } from 'preact/hooks';
import { api, FINISHED_STATUSES, type Job } from '../api/index.js';
import { ErrorBox } from '../components/error-box.js';
import { StatusBadge } from '../components/status-badge.js';
import { useLoad } from '../components/use-async.js';
import { formatTime, useI18n } from '../i18n/index.js';
import { canCancel, canResume, jobSubject } from '../jobs/actions.js';
import { Link } from '../router.js';

export function JobsPage() {
  const { t, language, explainError } = useI18n();
  const jobs = useLoad(() => api<{ jobs: Job[] }>('/api/jobs?limit=200'), []);
  const [error, setError] = useState<unknown>(null);
  const active = jobs.data?.jobs.some((job) => !FINISHED_STATUSES.includes(job.status)) ?? false;
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(jobs.reload, 2000);
    return () => clearInterval(timer);
  }, [active, jobs.reload]);

  const act = async (job: Job, action: 'cancel' | 'resume') => {
    setError(null);
    try {
      await api(`/api/jobs/${encodeURIComponent(job.id)}/${action}`, { method: 'POST' });
      jobs.reload();
    } catch (caught) {
      setError(caught);
    }
  };

  return (
    <section aria-labelledby="jobs-title">
      <h1 id="jobs-title">{t('jobs.title')}</h1>
      <ErrorBox error={error ?? jobs.error} />
      {jobs.data && jobs.data.jobs.length === 0 ? <p class="muted">{t('jobs.empty')}</p> : null}
      {jobs.data && jobs.data.jobs.length > 0 ? (
        <table>
          <thead>
            <tr>
              <th scope="col">{t('jobs.col.id')}</th>
              <th scope="col">{t('jobs.col.kind')}</th>
              <th scope="col">{t('jobs.col.subject')}</th>
              <th scope="col">{t('jobs.col.status')}</th>
              <th scope="col">{t('jobs.col.progress')}</th>
              <th scope="col">{t('jobs.col.created')}</th>
              <th scope="col">{t('jobs.col.actions')}</th>
            </tr>
          </thead>
          <tbody>
            {jobs.data.jobs.map((job) => (
              <tr key={job.id} data-job={job.id}>
                <td>
                  <Link href={`/jobs/${encodeURIComponent(job.id)}`}>
                    <code>{job.id.slice(0, 8)}</code>
                  </Link>
                </td>
                <td>{t(`kind.${job.kind}`)}</td>
                <td>{jobSubject(job)}</td>
                <td>
                  <StatusBadge status={job.status} />
                  {job.status === 'failed' && job.error ? (
                    <div class="muted small">{explainError(job.error).message}</div>
                  ) : null}
                </td>
                <td>
                  {job.progress ? (
                    <progress max={job.progress.total || 1} value={job.progress.step}>
                      {job.progress.step}/{job.progress.total}
                    </progress>
                  ) : null}{' '}
                  {job.progress ? `${job.progress.step}/${job.progress.total}` : ''}
                </td>
                <td>{formatTime(language, job.created_at)}</td>
                <td>
                  {canCancel(job.status) ? (
                    <button type="button" onClick={() => act(job, 'cancel')}>
                      {t('jobs.cancel')}
                    </button>
                  ) : null}
                  {canResume(job.status) ? (
                    <button type="button" onClick={() => act(job, 'resume')}>
                      {t('jobs.resume')}
                    </button>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}

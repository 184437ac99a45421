// A job's full log, fetched page by page when opened (and followed while the job runs).
import { useEffect, useState } from 'preact/hooks';
import { api, type LogLine } from '../api/index.js';
import { useI18n } from '../i18n/index.js';
import { ErrorBox } from './error-box.js';

export function JobLog({ jobId, live }: { jobId: string; live: boolean }) {
  const { t } = useI18n();
  const [open, setOpen] = useState(false);
  const [lines, setLines] = useState<LogLine[]>([]);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    if (!open) return;
    let stopped = false;
    let from = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    setLines([]);
    const readMore = async () => {
      try {
        for (;;) {
          const page = await api<{ lines: LogLine[]; next: number }>(
            `/api/jobs/${encodeURIComponent(jobId)}/log?from=${from}`,
          );
          if (stopped) return;
          if (page.lines.length > 0) setLines((all) => [...all, ...page.lines]);
          if (page.next === from || page.lines.length === 0) break;
          from = page.next;
        }
      } catch (caught) {
        if (!stopped) setError(caught);
        return;
      }
      if (live && !stopped) timer = setTimeout(readMore, 2000);
    };
    void readMore();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [open, jobId, live]);

  return (
    <details class="card" onToggle={(event) => setOpen((event.currentTarget as HTMLDetailsElement).open)}>
      <summary>{t('job.log')}</summary>
      <ErrorBox error={error} />
      {open && lines.length === 0 && !error ? <p class="muted">{t('job.logEmpty')}</p> : null}
      {lines.length > 0 ? (
        <pre class="log" data-testid="job-log">
          {lines.map((line) => line.text).join('\n')}
        </pre>
      ) : null}
    </details>
  );
}

// A train job's events, live: EventSource on /stream (resuming after the last seq), with the job itself polled
// alongside so that status and progress still arrive from a server or proxy that drops the stream.
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api/index.js';
import { FINISHED_STATUSES, type Job, type JobEvent } from '../api/types.js';
import { applyEvent, applyJobSnapshot, emptyTrainingView, type TrainingView } from './view-state.js';

const EVENT_TYPES = ['progress', 'sample', 'checkpoint', 'validation', 'finding', 'warning', 'log', 'status'] as const;
const POLL_MS = 2000;

export function useTrainingStream(jobId: string): { view: TrainingView; job: Job | null; error: unknown } {
  const [view, setView] = useState<TrainingView>(emptyTrainingView);
  const [job, setJob] = useState<Job | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    setView(emptyTrainingView());
    setJob(null);
    setError(null);
    let stopped = false;
    let source: EventSource | null = null;
    let timer: ReturnType<typeof setTimeout> | undefined;

    const openStream = () => {
      source = new EventSource(`/api/jobs/${encodeURIComponent(jobId)}/stream?after=0`);
      const onMessage = (message: MessageEvent<string>) => {
        let event: JobEvent;
        try {
          event = JSON.parse(message.data) as JobEvent;
        } catch {
          return;
        }
        setView((current) => applyEvent(current, event));
        if (event.type === 'status' && FINISHED_STATUSES.includes(event.status)) source?.close();
      };
      for (const type of EVENT_TYPES) source.addEventListener(type, onMessage as EventListener);
      // The browser reconnects by itself with Last-Event-ID, so an error here is only a pause in the stream.
    };

    const poll = async () => {
      try {
        const next = await api<Job>(`/api/jobs/${encodeURIComponent(jobId)}`);
        if (stopped) return;
        setJob(next);
        setView((current) => applyJobSnapshot(current, next));
        if (FINISHED_STATUSES.includes(next.status)) {
          // One more look a moment later, for events written just before the final status.
          timer = setTimeout(() => source?.close(), 3000);
          return;
        }
      } catch (caught) {
        if (stopped) return;
        setError(caught);
      }
      timer = setTimeout(poll, POLL_MS);
    };

    openStream();
    void poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
      source?.close();
    };
  }, [jobId]);

  return { view, job, error };
}

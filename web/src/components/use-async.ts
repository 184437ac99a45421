// Loading a thing once (and again on reload()), with its error kept for an ErrorBox.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../api/index.js';
import { FINISHED_STATUSES, type Job } from '../api/types.js';

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload(): void;
}

export function useLoad<T>(load: () => Promise<T>, deps: readonly unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({
    data: undefined,
    error: null,
    loading: true,
  });
  const [round, setRound] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => live && setState({ data, error: null, loading: false }),
      (error: unknown) => live && setState((s) => ({ data: s.data, error, loading: false })),
    );
    return () => {
      live = false;
    };
  }, [...deps, round]);
  const reload = useCallback(() => setRound((r) => r + 1), []);
  return { ...state, reload };
}

/** A job polled until it finishes (prepare, auto-label, generate, merge are short): its latest state. */
export function useJobWatch(id: string | null, onFinished?: (job: Job) => void): { job: Job | null; error: unknown } {
  const [job, setJob] = useState<Job | null>(null);
  const [error, setError] = useState<unknown>(null);
  const finished = useRef(onFinished);
  finished.current = onFinished;
  useEffect(() => {
    setJob(null);
    setError(null);
    if (id === null) return;
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      try {
        const next = await api<Job>(`/api/jobs/${encodeURIComponent(id)}`);
        if (!live) return;
        setJob(next);
        if (FINISHED_STATUSES.includes(next.status)) {
          finished.current?.(next);
          return;
        }
      } catch (caught) {
        if (!live) return;
        setError(caught);
      }
      timer = setTimeout(poll, 1000);
    };
    void poll();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [id]);
  return { job, error };
}

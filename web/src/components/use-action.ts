// A button's request: busy while it runs, its error kept for an ErrorBox, its result for a confirmation.
import { useState } from 'preact/hooks';

export interface Action<A extends unknown[], T> {
  run(...args: A): Promise<T | undefined>;
  busy: boolean;
  error: unknown;
  result: T | undefined;
  reset(): void;
}

export function useAction<A extends unknown[], T>(perform: (...args: A) => Promise<T>): Action<A, T> {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [result, setResult] = useState<T | undefined>(undefined);
  const run = async (...args: A): Promise<T | undefined> => {
    setBusy(true);
    setError(null);
    setResult(undefined);
    try {
      const value = await perform(...args);
      setResult(value);
      return value;
    } catch (caught) {
      setError(caught);
      return undefined;
    } finally {
      setBusy(false);
    }
  };
  return {
    run,
    busy,
    error,
    result,
    reset: () => {
      setError(null);
      setResult(undefined);
    },
  };
}

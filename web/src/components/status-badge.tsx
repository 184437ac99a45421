// A job's status as a word with a colour, never colour alone.
import type { JobStatus } from '../api/index.js';
import { useI18n } from '../i18n/index.js';

export function StatusBadge({ status }: { status: JobStatus }) {
  const { t } = useI18n();
  return (
    <span class={`badge status-${status}`} data-status={status}>
      {t(`status.${status}`)}
    </span>
  );
}

// An API error as the reader's sentence and what to do, with the server's own words one click away.
import { ApiError } from '../api/index.js';
import { useI18n } from '../i18n/index.js';

export function ErrorBox({ error }: { error: unknown }) {
  const { t, explainError } = useI18n();
  if (error === null || error === undefined) return null;
  const body =
    error instanceof ApiError
      ? { code: error.code, message: error.message, hint: error.hint }
      : typeof error === 'object' && error !== null && 'code' in error
        ? (error as { code: string; message?: string; hint?: string })
        : { code: 'unknown', message: error instanceof Error ? error.message : String(error) };
  const explained = explainError(body);
  const field = error instanceof ApiError ? error.field : undefined;
  return (
    <div class="error-box" role="alert" data-code={body.code}>
      <p class="error-message">
        {explained.message}
        {field ? <code class="field-name"> {field}</code> : null}
      </p>
      {explained.action ? (
        <p class="error-action">
          <strong>{t('common.whatToDo')}: </strong>
          {explained.action}
        </p>
      ) : null}
      {explained.detail ? (
        <details>
          <summary>{t('common.details')}</summary>
          <p>
            {explained.detail}
            {body.hint && body.hint !== explained.action ? ` — ${body.hint}` : ''}
          </p>
        </details>
      ) : null}
    </div>
  );
}

// One picture's caption: linted as you type (debounced POST lint), saved with the button or Ctrl+Enter.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, type Lint } from '../api/index.js';
import { ErrorBox } from '../components/error-box.js';
import { useI18n } from '../i18n/index.js';

/** Long enough that typing a word sends one request, short enough to feel live. */
export const LINT_DEBOUNCE_MS = 350;

export function CaptionEditor({
  dataset,
  file,
  caption,
  onSaved,
}: {
  dataset: string;
  file: string;
  caption: string | null;
  onSaved: (caption: string) => void;
}) {
  const { t } = useI18n();
  const [text, setText] = useState(caption ?? '');
  const [lint, setLint] = useState<Lint | null>(null);
  const [saved, setSaved] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const latest = useRef(0);
  const base = `/api/datasets/${encodeURIComponent(dataset)}`;
  const id = `caption-${file.replace(/[^\w-]/g, '_')}`;

  useEffect(() => {
    const ticket = ++latest.current;
    const timer = setTimeout(async () => {
      try {
        const result = await api<Lint>(`${base}/lint`, { json: { caption: text, file } });
        // An older answer arriving late must not overwrite a newer one.
        if (ticket === latest.current) setLint(result);
      } catch (caught) {
        if (ticket === latest.current) setError(caught);
      }
    }, LINT_DEBOUNCE_MS);
    return () => clearTimeout(timer);
  }, [text]);

  const save = async () => {
    setError(null);
    try {
      const result = await api<{ caption: string; lint: Lint }>(`${base}/captions`, {
        method: 'PUT',
        json: { file, caption: text },
      });
      setLint(result.lint);
      setSaved(true);
      onSaved(result.caption);
    } catch (caught) {
      setError(caught);
    }
  };

  return (
    <div class="caption-editor">
      <label for={id} class="visually-hidden">
        {t('dataset.caption', { file })}
      </label>
      <textarea
        id={id}
        rows={3}
        value={text}
        placeholder={t('dataset.noCaption')}
        aria-describedby={`${id}-lint`}
        onInput={(event) => {
          setText(event.currentTarget.value);
          setSaved(false);
        }}
        onKeyDown={(event) => {
          if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
            event.preventDefault();
            void save();
          }
        }}
      />
      <div id={`${id}-lint`} class="lint" aria-live="polite" data-testid="lint">
        {lint ? (
          <>
            <span class={lint.tokens.count > lint.tokens.limit ? 'tokens over' : 'tokens'}>
              {t('dataset.tokens', { count: lint.tokens.count, limit: lint.tokens.limit })}
            </span>
            {lint.findings.length === 0 ? (
              <span class="lint-clean">{t('dataset.lintClean')}</span>
            ) : (
              <ul>
                {lint.findings.map((finding, index) => (
                  <li key={`${finding.rule}-${index}`} class={`lint-${finding.severity}`} data-rule={finding.rule}>
                    {finding.message}
                    {finding.hint ? <span class="muted"> — {finding.hint}</span> : null}
                  </li>
                ))}
              </ul>
            )}
          </>
        ) : null}
      </div>
      <div class="row">
        <button type="button" onClick={save}>
          {t('dataset.captionSave')}
        </button>
        {saved ? <span class="muted">{t('common.saved')}</span> : null}
      </div>
      <ErrorBox error={error} />
    </div>
  );
}

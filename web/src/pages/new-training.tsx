// New training: a form made from the config schema, pre-flight in plain words, YAML in and out, Start.
import { useState } from 'preact/hooks';
import { api, type ConfigField, type Job, type Preflight } from '../api/index.js';
import {
  AUTO,
  configFromValues,
  defaultOutputDir,
  formatFieldValue,
  groupFields,
  initialValues,
  parseFieldInput,
} from '../config-form/fields.js';
import { ErrorBox } from '../components/error-box.js';
import { useLoad } from '../components/use-async.js';
import { formatDuration, hasKey, useI18n } from '../i18n/index.js';
import { navigate, useLocation } from '../router.js';

/** Open at first; the others (LoRA shape, captions, validation) keep good defaults and open on a click. */
const ESSENTIAL_GROUPS = new Set(['data', 'model', 'training', 'samples', 'output']);

export function NewTrainingPage() {
  const { t } = useI18n();
  const { query } = useLocation();
  const schema = useLoad(() => api<{ fields: ConfigField[] }>('/api/config/schema'), []);
  if (schema.error && !schema.data)
    return (
      <section>
        <h1>{t('train.title')}</h1>
        <p>{t('train.noSchema')}</p>
        <ErrorBox error={schema.error} />
      </section>
    );
  if (!schema.data) return <p class="muted">{t('common.loading')}</p>;
  const dataset = query.get('dataset');
  return <TrainingForm fields={schema.data.fields} start={dataset ? { train_data_dir: dataset } : {}} />;
}

function TrainingForm({ fields, start }: { fields: ConfigField[]; start: Record<string, unknown> }) {
  const { t, language } = useI18n();
  const [values, setValues] = useState(() => withOutputDir(initialValues(fields, start), fields, true));
  const [invalid, setInvalid] = useState<Record<string, string>>({});
  const [preflight, setPreflight] = useState<Preflight | null>(null);
  const [busy, setBusy] = useState(false);
  // Bumped when values are replaced wholesale (YAML import), so the uncontrolled inputs show the new ones.
  const [formVersion, setFormVersion] = useState(0);
  const [error, setError] = useState<unknown>(null);
  const config = () => configFromValues(fields, values);

  const setValue = (field: ConfigField, raw: string | boolean) => {
    const parsed = parseFieldInput(field, raw);
    if (!parsed.ok) {
      const message =
        parsed.reason === 'min'
          ? t('train.belowMin', { min: field.min ?? '' })
          : parsed.reason === 'max'
            ? t('train.aboveMax', { max: field.max ?? '' })
            : t(parsed.reason === 'integer' ? 'train.invalidInteger' : 'train.invalidNumber');
      setInvalid((m) => ({ ...m, [field.key]: message }));
      return;
    }
    setInvalid(({ [field.key]: _, ...rest }) => rest);
    setValues((current) => {
      const next = { ...current, [field.key]: parsed.value };
      // While output_dir still follows output_name, it keeps following it.
      const dir = current.output_dir;
      const followed = dir === undefined || dir === null || dir === '' || dir === defaultOutputDir(current.output_name);
      return field.key === 'output_name' ? withOutputDir(next, fields, followed) : next;
    });
    setPreflight(null);
  };

  const check = async (): Promise<Preflight | null> => {
    setError(null);
    try {
      const result = await api<Preflight>('/api/config/preflight', { json: { config: config() } });
      setPreflight(result);
      return result;
    } catch (caught) {
      setError(caught);
      return null;
    }
  };

  const startTraining = async (event: Event) => {
    event.preventDefault();
    if (Object.keys(invalid).length > 0) return;
    setBusy(true);
    try {
      const result = await check();
      if (result === null || result.problems.some((p) => p.blocking)) return;
      const job = await api<Job>('/api/jobs', { json: { kind: 'train', config: config() } });
      navigate(`/jobs/${encodeURIComponent(job.id)}`);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };

  const exportYaml = async () => {
    setError(null);
    try {
      const { yaml } = await api<{ yaml: string }>('/api/config/yaml', { json: { config: config() } });
      const link = document.createElement('a');
      link.href = URL.createObjectURL(new Blob([yaml], { type: 'text/yaml' }));
      link.download = `${String(values.output_name ?? 'train')}.yaml`;
      link.click();
      URL.revokeObjectURL(link.href);
    } catch (caught) {
      setError(caught);
    }
  };

  const importYaml = async (input: HTMLInputElement) => {
    const file = input.files?.[0];
    input.value = '';
    if (!file) return;
    setError(null);
    try {
      const parsed = await api<{ config: Record<string, unknown> }>('/api/config/parse', {
        json: { yaml: await file.text() },
      });
      setValues({ ...initialValues(fields, parsed.config), ...parsed.config });
      setFormVersion((v) => v + 1);
      setInvalid({});
      setPreflight(null);
    } catch (caught) {
      setError(caught);
    }
  };

  const groupLabel = (group: string) => {
    const key = `group.${group}`;
    return hasKey(key) ? t(key) : group;
  };
  const problemsByField = new Map<string, NonNullable<Preflight>['problems']>();
  for (const problem of preflight?.problems ?? []) {
    problemsByField.set(problem.field, [...(problemsByField.get(problem.field) ?? []), problem]);
  }
  const autoByKey = new Map((preflight?.auto ?? []).map((entry) => [entry.key, entry]));
  const blocking = preflight?.problems.filter((p) => p.blocking) ?? [];
  const advisory = preflight?.problems.filter((p) => !p.blocking) ?? [];

  return (
    <form class="training-form" onSubmit={startTraining} noValidate>
      <h1>{t('train.title')}</h1>
      <p class="muted">{t('train.intro')}</p>
      <div class="toolbar">
        <label class="button">
          {t('train.import')}
          <input
            type="file"
            class="visually-hidden"
            accept=".yaml,.yml"
            data-testid="import-yaml"
            onChange={(e) => importYaml(e.currentTarget)}
          />
        </label>
        <button type="button" onClick={exportYaml}>
          {t('train.export')}
        </button>
      </div>

      {groupFields(fields).map(({ group, fields: groupFieldList }) => (
        <details
          key={group}
          class="group"
          data-group={group}
          open={ESSENTIAL_GROUPS.has(group) || groupFieldList.some((f) => f.required || problemsByField.has(f.key))}
        >
          <summary>{groupLabel(group)}</summary>
          <fieldset>
            <legend class="visually-hidden">{groupLabel(group)}</legend>
            {groupFieldList.map((field) => (
              <FieldInput
                key={`${field.key}-${formVersion}`}
                field={field}
                value={values[field.key]}
                invalid={invalid[field.key]}
                problems={problemsByField.get(field.key) ?? []}
                auto={autoByKey.get(field.key)}
                onChange={(raw) => setValue(field, raw)}
              />
            ))}
          </fieldset>
        </details>
      ))}

      <div class="preflight" aria-live="polite" data-testid="preflight">
        {preflight ? (
          <>
            {blocking.length > 0 ? (
              <div class="error-box" role="alert">
                <p>{t('train.blocking')}</p>
                <ul>
                  {blocking.map((p) => (
                    <li key={`${p.field}-${p.code}`} data-code={p.code}>
                      <code>{p.field}</code>: {p.message}
                      {p.hint ? <span> — {p.hint}</span> : null}
                    </li>
                  ))}
                </ul>
              </div>
            ) : (
              <p class="ok">{t('train.ready')}</p>
            )}
            {advisory.length > 0 ? (
              <div class="notice">
                <p>{t('train.warnings')}</p>
                <ul>
                  {advisory.map((p) => (
                    <li key={`${p.field}-${p.code}`}>
                      <code>{p.field}</code>: {p.message}
                      {p.hint ? <span> — {p.hint}</span> : null}
                    </li>
                  ))}
                </ul>
              </div>
            ) : null}
            <p class="muted">
              {t('train.estimate', { steps: preflight.estimate.steps ?? '?', device: preflight.estimate.device })}
              {preflight.estimate.seconds !== null
                ? `, ${t('train.estimateTime', { time: formatDuration(language, preflight.estimate.seconds) })}`
                : ''}
              {preflight.estimate.memory_mib !== null
                ? `, ${t('train.estimateMemory', { mib: preflight.estimate.memory_mib })}`
                : ''}
            </p>
            {preflight.estimate.notes && preflight.estimate.notes.length > 0 ? (
              <details>
                <summary>{t('common.details')}</summary>
                <ul class="muted">
                  {preflight.estimate.notes.map((note) => (
                    <li key={note}>{note}</li>
                  ))}
                </ul>
              </details>
            ) : null}
          </>
        ) : null}
      </div>
      <ErrorBox error={error} />
      <div class="toolbar sticky">
        <button type="button" onClick={check} disabled={busy}>
          {t('train.check')}
        </button>
        <button type="submit" class="primary" disabled={busy || Object.keys(invalid).length > 0}>
          {busy ? t('train.starting') : t('train.start')}
        </button>
      </div>
    </form>
  );
}

function withOutputDir(values: Record<string, unknown>, fields: ConfigField[], follow: boolean) {
  if (!follow || !fields.some((f) => f.key === 'output_dir')) return values;
  const dir = defaultOutputDir(values.output_name);
  return dir === undefined ? values : { ...values, output_dir: dir };
}

function FieldInput({
  field,
  value,
  invalid,
  problems,
  auto,
  onChange,
}: {
  field: ConfigField;
  value: unknown;
  invalid: string | undefined;
  problems: Preflight['problems'];
  auto: Preflight['auto'][number] | undefined;
  onChange: (raw: string | boolean) => void;
}) {
  const { t } = useI18n();
  const id = `field-${field.key}`;
  const helpId = `${id}-help`;
  const isAuto = value === AUTO;
  const common = {
    id,
    name: field.key,
    'aria-describedby': helpId,
    'aria-invalid': invalid !== undefined || problems.some((p) => p.blocking),
  };
  let input: preact.JSX.Element;
  if (field.type === 'boolean') {
    input = (
      <input type="checkbox" {...common} checked={value === true} onChange={(e) => onChange(e.currentTarget.checked)} />
    );
  } else if (field.type === 'enum' && field.choices) {
    input = (
      <select {...common} value={formatFieldValue(value)} onChange={(e) => onChange(e.currentTarget.value)}>
        {value === undefined || value === null ? <option value="">—</option> : null}
        {field.accepts_auto ? <option value={AUTO}>{t('train.auto')}</option> : null}
        {field.choices.map((choice) => (
          <option key={String(choice)} value={String(choice)}>
            {String(choice)}
          </option>
        ))}
      </select>
    );
  } else if (field.type === 'list') {
    input = (
      <textarea
        {...common}
        key={formatFieldValue(value)}
        rows={3}
        defaultValue={formatFieldValue(value)}
        onChange={(e) => onChange(e.currentTarget.value)}
      />
    );
  } else {
    const numeric = field.type === 'number' || field.type === 'integer';
    input = (
      <input
        {...common}
        // Uncontrolled, read on change: a half-typed number ("0.") must not be rewritten under the cursor.
        key={formatFieldValue(value)}
        type="text"
        inputMode={numeric && !field.accepts_auto ? 'decimal' : undefined}
        defaultValue={formatFieldValue(value)}
        required={field.required}
        onChange={(e) => onChange(e.currentTarget.value)}
      />
    );
  }
  return (
    <div class={`field${field.type === 'boolean' ? ' field-check' : ''}`} data-key={field.key}>
      <label for={id}>
        {field.key}
        {field.required ? <span class="required"> ({t('train.required')})</span> : null}
      </label>
      <div class="field-control">
        {input}
        {field.accepts_auto && field.type !== 'enum' ? (
          <label class="check small">
            <input
              type="checkbox"
              checked={isAuto}
              onChange={(e) =>
                onChange(e.currentTarget.checked ? AUTO : formatFieldValue(field.default === AUTO ? '' : field.default))
              }
            />
            {t('train.useAuto')}
          </label>
        ) : null}
      </div>
      <p id={helpId} class="help">
        {field.help}
        {field.type === 'list' ? ` ${t('train.listHelp')}` : ''}{' '}
        <span class="muted">
          {t('train.default', { value: formatFieldValue(field.default) || field.derived_default || '—' })}
        </span>
        {auto ? (
          <span class="auto-reason" data-testid={`auto-${field.key}`}>
            {' '}
            {t('train.autoChosen', { value: formatFieldValue(auto.value), reason: auto.reason })}
          </span>
        ) : null}
      </p>
      {invalid ? <p class="field-error">{invalid}</p> : null}
      {problems.map((problem) => (
        <p key={problem.code} class={problem.blocking ? 'field-error' : 'field-warning'}>
          {problem.message}
          {problem.hint ? ` — ${problem.hint}` : ''}
        </p>
      ))}
    </div>
  );
}

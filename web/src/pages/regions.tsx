// Regions: place → style rules (city → province → region → default, optional time windows for event versions);
// add, edit, remove; and "resolve" a place to see which style and version win.
import { useState } from 'preact/hooks';
import { api, type RegionRule, type ResolvedPlace, type StyleSummary } from '../api/index.js';
import { ErrorBox } from '../components/error-box.js';
import { useAction } from '../components/use-action.js';
import { useLoad } from '../components/use-async.js';
import { formatTime, useI18n } from '../i18n/index.js';
import {
  EMPTY_RULE,
  inFallbackOrder,
  localOffsetMinutes,
  PLACE_LEVELS,
  type PlaceQuery,
  resolvePath,
  type RuleForm,
  ruleBody,
  ruleForm,
} from '../library/index.js';
import { Link } from '../router.js';

export function RegionsPage() {
  const { t } = useI18n();
  const rules = useLoad(() => api<{ regions: RegionRule[] }>('/api/library/regions'), []);
  const styles = useLoad(() => api<{ styles: StyleSummary[] }>('/api/library/styles'), []);
  const [editing, setEditing] = useState<RegionRule | null>(null);
  const list = inFallbackOrder(rules.data?.regions ?? []);
  return (
    <section aria-labelledby="regions-title">
      <h1 id="regions-title">{t('regions.title')}</h1>
      <p class="muted">{t('regions.intro')}</p>
      <ErrorBox error={rules.error ?? styles.error} />
      {rules.data && list.length === 0 ? <p class="muted">{t('regions.empty')}</p> : null}
      {list.length > 0 ? <RulesTable rules={list} onEdit={setEditing} onRemoved={rules.reload} /> : null}
      <RuleEditor
        key={editing?.id ?? 'new'}
        editing={editing}
        styles={styles.data?.styles ?? []}
        onDone={() => {
          setEditing(null);
          rules.reload();
        }}
      />
      <ResolveForm />
    </section>
  );
}

function RulesTable({
  rules,
  onEdit,
  onRemoved,
}: {
  rules: RegionRule[];
  onEdit: (rule: RegionRule) => void;
  onRemoved: () => void;
}) {
  const { t, language } = useI18n();
  const remove = useAction((id: number) => api(`/api/library/regions/${id}`, { method: 'DELETE' }));
  const windowText = (rule: RegionRule) => {
    if (rule.from === null && rule.until === null) return t('regions.always');
    const from = rule.from === null ? '…' : formatTime(language, rule.from);
    const until = rule.until === null ? '…' : formatTime(language, rule.until);
    return `${from} – ${until}`;
  };
  return (
    <>
      <ErrorBox error={remove.error} />
      <table data-testid="rules">
        <thead>
          <tr>
            <th scope="col">{t('regions.col.level')}</th>
            <th scope="col">{t('regions.col.place')}</th>
            <th scope="col">{t('regions.col.style')}</th>
            <th scope="col">{t('regions.col.version')}</th>
            <th scope="col">{t('regions.col.window')}</th>
            <th scope="col">{t('jobs.col.actions')}</th>
          </tr>
        </thead>
        <tbody>
          {rules.map((rule) => (
            <tr key={rule.id} data-rule={rule.id} data-level={rule.level} data-place={rule.place}>
              <td>{t(`regions.level.${rule.level}`)}</td>
              <td>{rule.level === 'default' ? '—' : rule.place}</td>
              <td>
                <Link href={`/library/${encodeURIComponent(rule.style)}`}>{rule.style}</Link>
              </td>
              <td>{rule.version === null ? t('regions.promotedVersion') : `v${rule.version}`}</td>
              <td>{windowText(rule)}</td>
              <td class="actions">
                <button type="button" onClick={() => onEdit(rule)}>
                  {t('regions.edit')}
                </button>
                <button
                  type="button"
                  disabled={remove.busy}
                  onClick={async () => {
                    if ((await remove.run(rule.id)) !== undefined) onRemoved();
                  }}
                >
                  {t('regions.remove')}
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

/**
 * Setting a rule replaces the one with the same level, place and window; an edit that changes any of those makes a
 * new rule, so the edited one is removed after the new one is saved (never before: a failed save loses nothing).
 */
function RuleEditor({
  editing,
  styles,
  onDone,
}: {
  editing: RegionRule | null;
  styles: StyleSummary[];
  onDone: () => void;
}) {
  const { t } = useI18n();
  const offset = localOffsetMinutes();
  const [form, setForm] = useState<RuleForm>(() => (editing ? ruleForm(editing, offset) : EMPTY_RULE));
  const set = (key: keyof RuleForm) => (event: { currentTarget: { value: string } }) =>
    setForm((current) => ({ ...current, [key]: event.currentTarget.value }));
  const save = useAction(async () => {
    const saved = await api<RegionRule>('/api/library/regions', { json: ruleBody(form, offset) });
    if (editing && saved.id !== editing.id) await api(`/api/library/regions/${editing.id}`, { method: 'DELETE' });
    return saved;
  });
  const submit = async (event: Event) => {
    event.preventDefault();
    if (await save.run()) {
      setForm(EMPTY_RULE);
      onDone();
    }
  };
  return (
    <form class="card" onSubmit={submit} aria-labelledby="rule-title" data-testid="rule-form">
      <h2 id="rule-title">{editing ? t('regions.editTitle') : t('regions.addTitle')}</h2>
      <div class="row">
        <div class="field">
          <label for="rule-level">{t('regions.col.level')}</label>
          <select id="rule-level" value={form.level} onChange={set('level')}>
            {PLACE_LEVELS.map((level) => (
              <option key={level} value={level}>
                {t(`regions.level.${level}`)}
              </option>
            ))}
          </select>
        </div>
        {form.level === 'default' ? null : (
          <div class="field">
            <label for="rule-place">{t('regions.col.place')}</label>
            <input id="rule-place" required value={form.place} placeholder="杭州" onInput={set('place')} />
          </div>
        )}
        <div class="field">
          <label for="rule-style">{t('regions.col.style')}</label>
          <select id="rule-style" required value={form.style} onChange={set('style')}>
            <option value="">{t('regions.pickStyle')}</option>
            {styles.map((style) => (
              <option key={style.name} value={style.name}>
                {style.name}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="rule-version">{t('regions.col.version')}</label>
          <input
            id="rule-version"
            inputMode="numeric"
            placeholder={t('regions.promotedVersion')}
            value={form.version}
            onInput={set('version')}
          />
        </div>
      </div>
      <div class="row">
        <div class="field">
          <label for="rule-from">{t('regions.from')}</label>
          <input id="rule-from" type="datetime-local" value={form.from} onInput={set('from')} />
        </div>
        <div class="field">
          <label for="rule-until">{t('regions.until')}</label>
          <input id="rule-until" type="datetime-local" value={form.until} onInput={set('until')} />
        </div>
        <p class="help grow">{t('regions.windowHelp')}</p>
      </div>
      <div class="toolbar">
        <button type="submit" class="primary" disabled={save.busy}>
          {t('regions.save')}
        </button>
        {editing ? (
          <button type="button" onClick={onDone}>
            {t('common.cancel')}
          </button>
        ) : null}
      </div>
      <ErrorBox error={save.error} />
    </form>
  );
}

function ResolveForm() {
  const { t, language } = useI18n();
  const [query, setQuery] = useState<PlaceQuery>({ city: '', province: '', region: '', at: '' });
  const set = (key: keyof PlaceQuery) => (event: { currentTarget: { value: string } }) =>
    setQuery((current) => ({ ...current, [key]: event.currentTarget.value }));
  const resolve = useAction(() => api<ResolvedPlace>(resolvePath(query, localOffsetMinutes())));
  const submit = (event: Event) => {
    event.preventDefault();
    void resolve.run();
  };
  const result = resolve.result;
  return (
    <section class="card" aria-labelledby="resolve-title" data-testid="resolve">
      <h2 id="resolve-title">{t('regions.resolve.title')}</h2>
      <p class="muted">{t('regions.resolve.help')}</p>
      <form class="row" onSubmit={submit}>
        {(['city', 'province', 'region'] as const).map((level) => (
          <div class="field" key={level}>
            <label for={`resolve-${level}`}>{t(`regions.level.${level}`)}</label>
            <input id={`resolve-${level}`} value={query[level]} onInput={set(level)} />
          </div>
        ))}
        <div class="field">
          <label for="resolve-at">{t('regions.resolve.at')}</label>
          <input id="resolve-at" type="datetime-local" value={query.at} onInput={set('at')} />
        </div>
        <button type="submit" class="primary" disabled={resolve.busy}>
          {t('regions.resolve.submit')}
        </button>
      </form>
      <ErrorBox error={resolve.error} />
      {result ? (
        result.resolved === null ? (
          <p class="notice" data-testid="resolved" data-matched="none">
            {t('regions.resolve.none', { at: formatTime(language, result.at) })}
          </p>
        ) : (
          <div data-testid="resolved" data-matched={result.resolved.matched} data-style={result.resolved.style}>
            <p class="ok">
              {t('regions.resolve.found', {
                style: result.resolved.style,
                version: result.resolved.version,
                level: t(`regions.level.${result.resolved.matched}`),
              })}
            </p>
            <dl class="facts">
              <div>
                <dt>{t('library.field.strength')}</dt>
                <dd>{result.resolved.strength}</dd>
              </div>
              <div>
                <dt>{t('library.field.triggers')}</dt>
                <dd>{result.resolved.trigger_words.join(', ') || '—'}</dd>
              </div>
              <div>
                <dt>{t('library.field.template')}</dt>
                <dd>{result.resolved.prompt_template ? <code>{result.resolved.prompt_template}</code> : '—'}</dd>
              </div>
              <div>
                <dt>{t('library.field.baseModel')}</dt>
                <dd>{result.resolved.base_model ?? '—'}</dd>
              </div>
              <div>
                <dt>{t('regions.resolve.atLabel')}</dt>
                <dd>{formatTime(language, result.at)}</dd>
              </div>
            </dl>
          </div>
        )
      ) : null}
    </section>
  );
}

// The style library: the styles, a LoRA added as a version; a style's page with its versions (promote, retire, edit),
// its prompt template, "continue this style on new pictures", and the experiments it was in.
import { useState } from 'preact/hooks';
import {
  type AddedStyleVersion,
  api,
  type ContinuedStyle,
  type DatasetSummary,
  type Experiment,
  type ExperimentReport,
  fileUrl,
  type LoraSummary,
  type StyleDetail,
  type StyleSummary,
  type StyleVersion,
} from '../api/index.js';
import { ErrorBox } from '../components/error-box.js';
import { useAction } from '../components/use-action.js';
import { useLoad } from '../components/use-async.js';
import { formatLift, verdictMessage } from '../experiments/index.js';
import { formatTime, useI18n } from '../i18n/index.js';
import { lineageSummary, newestFirst, promotedOf, splitWords, versionActions } from '../library/index.js';
import { Link, navigate } from '../router.js';

const stylePath = (name: string) => `/api/library/styles/${encodeURIComponent(name)}`;
/** The job badges' colours: promoted reads as done, a draft as waiting, retired as set aside. */
const STATUS_CLASS: Record<StyleVersion['status'], string> = {
  draft: 'status-queued',
  promoted: 'status-done',
  retired: 'status-cancelled',
};
const PLACEHOLDERS = '{title} {prompt} {style} {strength} {trigger_words}';

export function LibraryPage() {
  const { t, language } = useI18n();
  const list = useLoad(() => api<{ styles: StyleSummary[] }>('/api/library/styles'), []);
  const styles = list.data?.styles ?? [];
  return (
    <section aria-labelledby="library-title">
      <h1 id="library-title">{t('library.title')}</h1>
      <p class="muted">{t('library.intro')}</p>
      <ErrorBox error={list.error} />
      {list.data && styles.length === 0 ? <p class="muted">{t('library.empty')}</p> : null}
      {styles.length > 0 ? (
        <table data-testid="styles">
          <thead>
            <tr>
              <th scope="col">{t('library.col.name')}</th>
              <th scope="col">{t('library.col.versions')}</th>
              <th scope="col">{t('library.col.promoted')}</th>
              <th scope="col">{t('library.col.template')}</th>
              <th scope="col">{t('library.col.created')}</th>
            </tr>
          </thead>
          <tbody>
            {styles.map((style) => (
              <tr key={style.name} data-style={style.name}>
                <td>
                  <Link href={`/library/${encodeURIComponent(style.name)}`}>{style.name}</Link>
                </td>
                <td>{style.versions}</td>
                <td>{style.promoted === null ? t('library.nonePromoted') : `v${style.promoted}`}</td>
                <td>{style.prompt_template ? <code>{style.prompt_template}</code> : '—'}</td>
                <td>{formatTime(language, style.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <AddVersionForm onAdded={(added) => navigate(`/library/${encodeURIComponent(added.version.style)}`)} />
    </section>
  );
}

/** A LoRA of the workspace into the library: a new style, or the next version of one. */
function AddVersionForm({
  onAdded,
  style: fixedStyle,
}: {
  onAdded: (added: AddedStyleVersion) => void;
  style?: string;
}) {
  const { t } = useI18n();
  const loras = useLoad(() => api<{ loras: LoraSummary[] }>('/api/loras'), []);
  const [form, setForm] = useState({
    style: fixedStyle ?? '',
    lora: '',
    baseModel: '',
    triggers: '',
    strength: '',
    tags: '',
    notes: '',
    template: '',
  });
  const set = (key: keyof typeof form) => (event: { currentTarget: { value: string } }) =>
    setForm((current) => ({ ...current, [key]: event.currentTarget.value }));
  const add = useAction(async () => {
    const body = {
      lora_path: form.lora.trim(),
      ...(form.baseModel.trim() === '' ? {} : { base_model: form.baseModel.trim() }),
      ...(form.triggers.trim() === '' ? {} : { trigger_words: splitWords(form.triggers) }),
      ...(form.strength.trim() === '' ? {} : { strength: Number(form.strength) }),
      ...(form.tags.trim() === '' ? {} : { tags: splitWords(form.tags) }),
      ...(form.notes.trim() === '' ? {} : { notes: form.notes.trim() }),
      ...(form.template.trim() === '' ? {} : { prompt_template: form.template.trim() }),
    };
    return api<AddedStyleVersion>(`${stylePath(form.style.trim())}/versions`, { json: body });
  });
  const submit = async (event: Event) => {
    event.preventDefault();
    const added = await add.run();
    if (added) onAdded(added);
  };
  const pickLora = (path: string) => {
    const lora = loras.data?.loras.find((each) => each.path === path);
    setForm((current) => ({
      ...current,
      lora: path,
      baseModel: current.baseModel || (lora?.base_model ? guessModelPath(lora.base_model) : ''),
    }));
  };
  return (
    <form class="card" onSubmit={submit} aria-labelledby="add-version-title" data-testid="add-version">
      <h2 id="add-version-title">{fixedStyle ? t('library.addVersion.title') : t('library.add.title')}</h2>
      <p class="muted">{t('library.add.help')}</p>
      <div class="row">
        {fixedStyle ? null : (
          <div class="field">
            <label for="add-style">{t('library.field.style')}</label>
            <input id="add-style" required maxLength={64} value={form.style} onInput={set('style')} />
          </div>
        )}
        <div class="field grow">
          <label for="add-lora">{t('library.field.lora')}</label>
          <input
            id="add-lora"
            required
            list="add-lora-files"
            value={form.lora}
            placeholder="output/name/name.safetensors"
            onInput={(event) => pickLora(event.currentTarget.value)}
          />
          <datalist id="add-lora-files">
            {(loras.data?.loras ?? []).map((lora) => (
              <option key={lora.path} value={lora.path}>
                {lora.name}
              </option>
            ))}
          </datalist>
        </div>
        <div class="field">
          <label for="add-base">{t('library.field.baseModel')}</label>
          <input id="add-base" value={form.baseModel} placeholder="models/…" onInput={set('baseModel')} />
        </div>
      </div>
      <div class="row">
        <div class="field grow">
          <label for="add-triggers">{t('library.field.triggers')}</label>
          <input id="add-triggers" value={form.triggers} onInput={set('triggers')} />
        </div>
        <div class="field">
          <label for="add-strength">{t('library.field.strength')}</label>
          <input
            id="add-strength"
            inputMode="decimal"
            placeholder="1"
            value={form.strength}
            onInput={set('strength')}
          />
        </div>
        <div class="field grow">
          <label for="add-tags">{t('library.field.tags')}</label>
          <input id="add-tags" value={form.tags} onInput={set('tags')} />
        </div>
      </div>
      <div class="field">
        <label for="add-notes">{t('library.field.notes')}</label>
        <textarea id="add-notes" rows={2} value={form.notes} onInput={set('notes')} />
      </div>
      {fixedStyle ? null : (
        <div class="field">
          <label for="add-template">{t('library.field.template')}</label>
          <input
            id="add-template"
            value={form.template}
            placeholder="{title}, {prompt}, {trigger_words}"
            aria-describedby="add-template-help"
            onInput={set('template')}
          />
          <p id="add-template-help" class="help">
            {t('library.templateHelp')} <code>{PLACEHOLDERS}</code>
          </p>
        </div>
      )}
      <button type="submit" class="primary" disabled={add.busy}>
        {add.busy ? t('common.working') : t('library.add.submit')}
      </button>
      <ErrorBox error={add.error} />
      {add.result ? (
        <p class="ok" role="status">
          {t(add.result.is_new ? 'library.add.added' : 'library.add.same', {
            version: add.result.version.version,
            style: add.result.version.style,
          })}
        </p>
      ) : null}
    </form>
  );
}

/** A LoRA records the base model's file name; the library wants the workspace path it renders with. */
function guessModelPath(name: string): string {
  return name.includes('/') ? name : `models/${name}`;
}

export function StylePage({ name }: { name: string }) {
  const { t } = useI18n();
  const style = useLoad(() => api<StyleDetail>(stylePath(name)), [name]);
  const data = style.data;
  const promoted = data ? promotedOf(data.versions) : null;
  return (
    <section aria-labelledby="style-title">
      <p>
        <Link href="/library">{t('library.back')}</Link>
      </p>
      <h1 id="style-title">{name}</h1>
      <ErrorBox error={style.error} />
      {data ? (
        <>
          <p class={promoted ? 'ok' : 'notice'} data-testid="promoted">
            {promoted
              ? t('library.resolvesTo', { tag: `<lora:${name}:${promoted.strength}>`, version: promoted.version })
              : t('library.noPromoted')}
          </p>
          <TemplateForm name={name} template={data.prompt_template} onSaved={style.reload} />
          <h2>{t('library.versions')}</h2>
          {newestFirst(data.versions).map((version) => (
            <VersionCard key={version.version} version={version} onChanged={style.reload} />
          ))}
          <ContinueForm name={name} promoted={promoted} continuations={data.continuations} />
          <AddVersionForm style={name} onAdded={style.reload} />
          <StyleExperiments name={name} />
        </>
      ) : null}
    </section>
  );
}

function TemplateForm({ name, template, onSaved }: { name: string; template: string | null; onSaved: () => void }) {
  const { t } = useI18n();
  const [text, setText] = useState(template ?? '');
  const save = useAction(() =>
    api(stylePath(name), { method: 'PATCH', json: { prompt_template: text.trim() === '' ? null : text.trim() } }),
  );
  const submit = async (event: Event) => {
    event.preventDefault();
    if (await save.run()) onSaved();
  };
  return (
    <form class="card" onSubmit={submit} data-testid="template">
      <div class="field">
        <label for="style-template">{t('library.field.template')}</label>
        <input
          id="style-template"
          value={text}
          aria-describedby="style-template-help"
          onInput={(event) => setText(event.currentTarget.value)}
        />
        <p id="style-template-help" class="help">
          {t('library.templateHelp')} <code>{PLACEHOLDERS}</code>
        </p>
      </div>
      <button type="submit" disabled={save.busy}>
        {t('common.save')}
      </button>{' '}
      {save.result ? <span class="ok">{t('common.saved')}</span> : null}
      <ErrorBox error={save.error} />
    </form>
  );
}

function VersionCard({ version, onChanged }: { version: StyleVersion; onChanged: () => void }) {
  const { t, language } = useI18n();
  const actions = versionActions(version.status);
  const lineage = lineageSummary(version.lineage);
  const change = useAction((action: 'promote' | 'retire') =>
    api<StyleVersion>(`${stylePath(version.style)}/versions/${version.version}/${action}`, { method: 'POST' }),
  );
  const act = async (action: 'promote' | 'retire') => {
    if (await change.run(action)) onChanged();
  };
  return (
    <article class="card" data-version={version.version} data-status={version.status}>
      <h3>
        {t('library.version', { version: version.version })}{' '}
        <span class={`badge ${STATUS_CLASS[version.status]}`} data-testid="version-status">
          {t(`library.status.${version.status}`)}
        </span>
      </h3>
      <div class="toolbar">
        {actions.promote ? (
          <button type="button" class="primary" disabled={change.busy} onClick={() => void act('promote')}>
            {t('library.promote')}
          </button>
        ) : null}
        {actions.retire ? (
          <button type="button" disabled={change.busy} onClick={() => void act('retire')}>
            {t('library.retire')}
          </button>
        ) : null}
      </div>
      <ErrorBox error={change.error} />
      <dl class="facts">
        <div>
          <dt>{t('common.file')}</dt>
          <dd>
            <code>{version.source_name}</code>
          </dd>
        </div>
        <div>
          <dt>sha256</dt>
          <dd>
            <code title={version.sha256}>{version.sha256.slice(0, 12)}</code>
          </dd>
        </div>
        <div>
          <dt>{t('library.field.baseModel')}</dt>
          <dd>{version.base_model ?? '—'}</dd>
        </div>
        <div>
          <dt>{t('library.field.strength')}</dt>
          <dd>{version.strength}</dd>
        </div>
        <div>
          <dt>{t('library.field.triggers')}</dt>
          <dd>{version.trigger_words.length > 0 ? version.trigger_words.join(', ') : '—'}</dd>
        </div>
        <div>
          <dt>{t('library.field.tags')}</dt>
          <dd>{version.tags.length > 0 ? version.tags.join(', ') : '—'}</dd>
        </div>
        <div>
          <dt>{t('loras.col.steps')}</dt>
          <dd>{version.steps ?? '—'}</dd>
        </div>
        <div>
          <dt>{t('library.parent')}</dt>
          <dd data-testid="parent">
            {version.parent_version !== null
              ? t('library.version', { version: version.parent_version })
              : (lineage.parentFile ?? '—')}
          </dd>
        </div>
        {lineage.datasets.length > 0 ? (
          <div>
            <dt>{t('library.datasets')}</dt>
            <dd>{lineage.datasets.join(', ')}</dd>
          </div>
        ) : null}
        <div>
          <dt>{t('library.col.created')}</dt>
          <dd>{formatTime(language, version.created_at)}</dd>
        </div>
      </dl>
      {version.notes ? <p class="notes">{version.notes}</p> : null}
      {version.sample_grid.length > 0 ? (
        <div class="image-row" data-testid="sample-grid">
          {version.sample_grid.map((path) => (
            <a key={path} href={fileUrl(path)} target="_blank" rel="noreferrer">
              <img src={fileUrl(path, 256)} alt={path} loading="lazy" />
            </a>
          ))}
        </div>
      ) : (
        <p class="muted">{t('library.noSamples')}</p>
      )}
      <details>
        <summary>{t('library.edit')}</summary>
        <EditVersionForm version={version} onSaved={onChanged} />
      </details>
    </article>
  );
}

function EditVersionForm({ version, onSaved }: { version: StyleVersion; onSaved: () => void }) {
  const { t } = useI18n();
  const id = (field: string) => `edit-${version.version}-${field}`;
  const [form, setForm] = useState({
    triggers: version.trigger_words.join(', '),
    strength: String(version.strength),
    tags: version.tags.join(', '),
    notes: version.notes,
    samples: version.sample_grid.join('\n'),
    baseModel: version.base_model ?? '',
  });
  const set = (key: keyof typeof form) => (event: { currentTarget: { value: string } }) =>
    setForm((current) => ({ ...current, [key]: event.currentTarget.value }));
  const save = useAction(() =>
    api<StyleVersion>(`${stylePath(version.style)}/versions/${version.version}`, {
      method: 'PATCH',
      json: {
        trigger_words: splitWords(form.triggers),
        strength: Number(form.strength),
        tags: splitWords(form.tags),
        notes: form.notes,
        sample_grid: form.samples
          .split('\n')
          .map((line) => line.trim())
          .filter(Boolean),
        base_model: form.baseModel.trim() === '' ? null : form.baseModel.trim(),
      },
    }),
  );
  const submit = async (event: Event) => {
    event.preventDefault();
    if (await save.run()) onSaved();
  };
  return (
    <form onSubmit={submit}>
      <div class="row">
        <div class="field grow">
          <label for={id('triggers')}>{t('library.field.triggers')}</label>
          <input id={id('triggers')} value={form.triggers} onInput={set('triggers')} />
        </div>
        <div class="field">
          <label for={id('strength')}>{t('library.field.strength')}</label>
          <input id={id('strength')} inputMode="decimal" value={form.strength} onInput={set('strength')} />
        </div>
        <div class="field grow">
          <label for={id('tags')}>{t('library.field.tags')}</label>
          <input id={id('tags')} value={form.tags} onInput={set('tags')} />
        </div>
        <div class="field">
          <label for={id('base')}>{t('library.field.baseModel')}</label>
          <input id={id('base')} value={form.baseModel} onInput={set('baseModel')} />
        </div>
      </div>
      <div class="field">
        <label for={id('notes')}>{t('library.field.notes')}</label>
        <textarea id={id('notes')} rows={2} value={form.notes} onInput={set('notes')} />
      </div>
      <div class="field">
        <label for={id('samples')}>{t('library.field.samples')}</label>
        <textarea id={id('samples')} rows={2} value={form.samples} onInput={set('samples')} />
      </div>
      <button type="submit" disabled={save.busy}>
        {t('common.save')}
      </button>
      <ErrorBox error={save.error} />
    </form>
  );
}

/** "Continue this style on new pictures": a train job from the promoted version; its LoRA becomes the next draft. */
function ContinueForm({
  name,
  promoted,
  continuations,
}: {
  name: string;
  promoted: StyleVersion | null;
  continuations: StyleDetail['continuations'];
}) {
  const { t, language } = useI18n();
  const datasets = useLoad(() => api<{ datasets: DatasetSummary[] }>('/api/datasets'), []);
  const [dataset, setDataset] = useState('');
  const [steps, setSteps] = useState('');
  const start = useAction(() =>
    api<ContinuedStyle>(`${stylePath(name)}/continue`, {
      json: { train_data_dir: dataset, ...(steps.trim() === '' ? {} : { max_train_steps: Number(steps) }) },
    }),
  );
  const submit = (event: Event) => {
    event.preventDefault();
    void start.run();
  };
  const list = datasets.data?.datasets ?? [];
  return (
    <section class="card" aria-labelledby="continue-title" data-testid="continue">
      <h2 id="continue-title">{t('library.continue.title')}</h2>
      <p class="muted">
        {promoted ? t('library.continue.help', { version: promoted.version }) : t('library.continue.needPromoted')}
      </p>
      <form class="row" onSubmit={submit}>
        <div class="field">
          <label for="continue-dataset">{t('library.continue.dataset')}</label>
          <select
            id="continue-dataset"
            required
            value={dataset}
            onChange={(event) => setDataset(event.currentTarget.value)}
          >
            <option value="">{t('library.continue.pick')}</option>
            {list.map((each) => (
              <option key={each.path} value={each.path}>
                {each.name} ({each.images})
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="continue-steps">{t('library.continue.steps')}</label>
          <input
            id="continue-steps"
            inputMode="numeric"
            placeholder={t('train.auto')}
            value={steps}
            onInput={(event) => setSteps(event.currentTarget.value)}
          />
        </div>
        <button type="submit" class="primary" disabled={start.busy || promoted === null || dataset === ''}>
          {t('library.continue.start')}
        </button>
      </form>
      <ErrorBox error={datasets.error ?? start.error} />
      {start.result ? (
        <p class="ok" role="status">
          {t('library.continue.started')}{' '}
          <Link href={`/jobs/${encodeURIComponent(start.result.job.id)}`}>{start.result.job.id}</Link>
        </p>
      ) : null}
      {continuations.length > 0 ? (
        <table>
          <thead>
            <tr>
              <th scope="col">{t('jobs.col.id')}</th>
              <th scope="col">{t('library.continue.from')}</th>
              <th scope="col">{t('jobs.col.status')}</th>
              <th scope="col">{t('jobs.col.created')}</th>
            </tr>
          </thead>
          <tbody>
            {continuations.map((each) => (
              <tr key={each.job_id} data-job={each.job_id}>
                <td>
                  <Link href={`/jobs/${encodeURIComponent(each.job_id)}`}>{each.job_id}</Link>
                </td>
                <td>{t('library.version', { version: each.parent_version })}</td>
                <td>
                  {each.state === 'added' && each.version !== null
                    ? t('library.continue.added', { version: each.version })
                    : t(`library.continue.state.${each.state}`)}
                </td>
                <td>{formatTime(language, each.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}

/** The experiments with an arm showing this style, each with its verdict in words. */
function StyleExperiments({ name }: { name: string }) {
  const { t } = useI18n();
  const list = useLoad(
    () => api<{ experiments: Experiment[] }>(`/api/experiments?style=${encodeURIComponent(name)}`),
    [name],
  );
  const experiments = list.data?.experiments ?? [];
  return (
    <section class="card" aria-labelledby="style-experiments-title" data-testid="style-experiments">
      <h2 id="style-experiments-title">{t('library.experiments')}</h2>
      <ErrorBox error={list.error} />
      {list.data && experiments.length === 0 ? <p class="muted">{t('library.experimentsNone')}</p> : null}
      <ul>
        {experiments.map((experiment) => (
          <StyleExperiment key={experiment.id} experiment={experiment} style={name} />
        ))}
      </ul>
    </section>
  );
}

function StyleExperiment({ experiment, style }: { experiment: Experiment; style: string }) {
  const { t } = useI18n();
  const report = useLoad(
    () => api<ExperimentReport>(`/api/experiments/${encodeURIComponent(experiment.id)}/report`),
    [experiment.id],
  );
  const arms = experiment.arms.filter((arm) => arm.style === style).map((arm) => arm.name);
  const overall = report.data?.overall;
  const message = overall ? verdictMessage(overall, experiment.control, experiment.planned_users_per_arm) : null;
  const lifts = overall?.comparisons.filter((each) => arms.includes(each.arm)) ?? [];
  return (
    <li data-experiment={experiment.id}>
      <Link href={`/experiments/${encodeURIComponent(experiment.id)}`}>{experiment.name}</Link>{' '}
      <span class="muted">({t('library.inArms', { arms: arms.join(', ') })})</span>
      {message ? <p data-decision={overall!.verdict.decision}>{t(message.key, message.vars)}</p> : null}
      {lifts.map((each) => (
        <p key={each.arm} class="muted">
          {t('experiments.liftOf', { arm: each.arm, lift: formatLift(each.lift) })}
        </p>
      ))}
      <ErrorBox error={report.error} />
    </li>
  );
}

// A/B experiments of covers: the list, a new one with its arms and plan; an experiment's report (CTR per arm with
// intervals, lift, fixed and sequential tests, the sample-ratio check, the verdict in words), counts imported as CSV,
// and the report exported as CSV or JSON.
import { useState } from 'preact/hooks';
import {
  api,
  type ArmComparison,
  type Experiment,
  type ExperimentPlan,
  type ExperimentReport,
  type ExperimentScope,
  type StyleSummary,
} from '../api/index.js';
import { ErrorBox } from '../components/error-box.js';
import { useAction } from '../components/use-action.js';
import { useLoad } from '../components/use-async.js';
import {
  type ArmRow,
  countsCsvTemplate,
  EMPTY_ARM,
  type ExperimentForm,
  experimentBody,
  formatInterval,
  formatLift,
  formatPercent,
  formatPValue,
  STARTING_FORM,
  verdictMessage,
} from '../experiments/index.js';
import { formatTime, useI18n } from '../i18n/index.js';
import { Link, navigate } from '../router.js';

const experimentPath = (id: string) => `/api/experiments/${encodeURIComponent(id)}`;

export function ExperimentsPage() {
  const { t, language } = useI18n();
  const list = useLoad(() => api<{ experiments: Experiment[] }>('/api/experiments'), []);
  const experiments = list.data?.experiments ?? [];
  return (
    <section aria-labelledby="experiments-title">
      <h1 id="experiments-title">{t('experiments.title')}</h1>
      <p class="muted">{t('experiments.intro')}</p>
      <ErrorBox error={list.error} />
      {list.data && experiments.length === 0 ? <p class="muted">{t('experiments.empty')}</p> : null}
      {experiments.length > 0 ? (
        <table data-testid="experiments">
          <thead>
            <tr>
              <th scope="col">{t('experiments.col.name')}</th>
              <th scope="col">{t('experiments.col.arms')}</th>
              <th scope="col">{t('experiments.col.planned')}</th>
              <th scope="col">{t('jobs.col.created')}</th>
            </tr>
          </thead>
          <tbody>
            {experiments.map((experiment) => (
              <tr key={experiment.id} data-experiment={experiment.id}>
                <td>
                  <Link href={`/experiments/${encodeURIComponent(experiment.id)}`}>{experiment.name}</Link>
                  <br />
                  <code class="muted">{experiment.id}</code>
                </td>
                <td>{experiment.arms.map((arm) => arm.name).join(' · ')}</td>
                <td>{experiment.planned_users_per_arm ?? '—'}</td>
                <td>{formatTime(language, experiment.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <NewExperimentForm />
      <Planner />
    </section>
  );
}

function NewExperimentForm() {
  const { t } = useI18n();
  const styles = useLoad(() => api<{ styles: StyleSummary[] }>('/api/library/styles'), []);
  const [form, setForm] = useState<ExperimentForm>(STARTING_FORM);
  const setField =
    (key: 'id' | 'name' | 'baselineCtrPercent' | 'minLiftPercent') => (event: { currentTarget: { value: string } }) =>
      setForm((current) => ({ ...current, [key]: event.currentTarget.value }));
  const setArm = (index: number, key: keyof ArmRow, value: string) =>
    setForm((current) => ({
      ...current,
      arms: current.arms.map((arm, i) => (i === index ? { ...arm, [key]: value } : arm)),
    }));
  const create = useAction(() => api<Experiment>('/api/experiments', { json: experimentBody(form) }));
  const submit = async (event: Event) => {
    event.preventDefault();
    const created = await create.run();
    if (created) navigate(`/experiments/${encodeURIComponent(created.id)}`);
  };
  return (
    <form class="card" onSubmit={submit} aria-labelledby="new-experiment-title" data-testid="new-experiment">
      <h2 id="new-experiment-title">{t('experiments.new')}</h2>
      <div class="row">
        <div class="field">
          <label for="experiment-id">{t('experiments.field.id')}</label>
          <input
            id="experiment-id"
            required
            maxLength={64}
            aria-describedby="experiment-id-help"
            value={form.id}
            onInput={setField('id')}
          />
          <p id="experiment-id-help" class="help">
            {t('experiments.field.idHelp')}
          </p>
        </div>
        <div class="field grow">
          <label for="experiment-name">{t('experiments.field.name')}</label>
          <input id="experiment-name" maxLength={200} value={form.name} onInput={setField('name')} />
        </div>
      </div>
      <fieldset>
        <legend>{t('experiments.arms')}</legend>
        <p class="help">{t('experiments.armsHelp')}</p>
        {form.arms.map((arm, index) => (
          <div class="row" key={index} data-arm-row={index}>
            <div class="field">
              <label for={`arm-${index}-name`}>{t('experiments.arm.name', { n: index + 1 })}</label>
              <input
                id={`arm-${index}-name`}
                value={arm.name}
                onInput={(event) => setArm(index, 'name', event.currentTarget.value)}
              />
            </div>
            <div class="field">
              <label for={`arm-${index}-weight`}>{t('experiments.arm.weight')}</label>
              <input
                id={`arm-${index}-weight`}
                inputMode="decimal"
                value={arm.weight}
                onInput={(event) => setArm(index, 'weight', event.currentTarget.value)}
              />
            </div>
            <div class="field">
              <label for={`arm-${index}-style`}>{t('experiments.arm.style')}</label>
              <select
                id={`arm-${index}-style`}
                value={arm.style}
                onChange={(event) => setArm(index, 'style', event.currentTarget.value)}
              >
                <option value="">{t('experiments.arm.noStyle')}</option>
                {(styles.data?.styles ?? []).map((style) => (
                  <option key={style.name} value={style.name}>
                    {style.name}
                  </option>
                ))}
              </select>
            </div>
            <div class="field">
              <label for={`arm-${index}-strength`}>{t('library.field.strength')}</label>
              <input
                id={`arm-${index}-strength`}
                inputMode="decimal"
                value={arm.strength}
                onInput={(event) => setArm(index, 'strength', event.currentTarget.value)}
              />
            </div>
          </div>
        ))}
        <button
          type="button"
          onClick={() => setForm((current) => ({ ...current, arms: [...current.arms, { ...EMPTY_ARM }] }))}
        >
          {t('experiments.addArm')}
        </button>
      </fieldset>
      <div class="row">
        <div class="field">
          <label for="experiment-baseline">{t('experiments.field.baseline')}</label>
          <input
            id="experiment-baseline"
            inputMode="decimal"
            placeholder="5"
            value={form.baselineCtrPercent}
            onInput={setField('baselineCtrPercent')}
          />
        </div>
        <div class="field">
          <label for="experiment-lift">{t('experiments.field.minLift')}</label>
          <input
            id="experiment-lift"
            inputMode="decimal"
            placeholder="23"
            value={form.minLiftPercent}
            onInput={setField('minLiftPercent')}
          />
        </div>
        <p class="help grow">{t('experiments.planHelp')}</p>
      </div>
      <button type="submit" class="primary" disabled={create.busy}>
        {t('experiments.create')}
      </button>
      <ErrorBox error={create.error} />
    </form>
  );
}

/** How many users a lift needs, or which lift a number of users can find (fixed horizon, two-sided). */
function Planner() {
  const { t } = useI18n();
  const [form, setForm] = useState({ baseline: '5', lift: '23', users: '' });
  const set = (key: keyof typeof form) => (event: { currentTarget: { value: string } }) =>
    setForm((current) => ({ ...current, [key]: event.currentTarget.value }));
  const plan = useAction(() =>
    api<ExperimentPlan>('/api/experiments/plan', {
      json: {
        baseline_ctr: Number(form.baseline) / 100,
        ...(form.users.trim() === ''
          ? { relative_lift: Number(form.lift) / 100 }
          : { users_per_arm: Number(form.users) }),
      },
    }),
  );
  const submit = (event: Event) => {
    event.preventDefault();
    void plan.run();
  };
  return (
    <form class="card" onSubmit={submit} aria-labelledby="planner-title" data-testid="planner">
      <h2 id="planner-title">{t('experiments.planner.title')}</h2>
      <p class="muted">{t('experiments.planner.help')}</p>
      <div class="row">
        <div class="field">
          <label for="plan-baseline">{t('experiments.field.baseline')}</label>
          <input id="plan-baseline" inputMode="decimal" required value={form.baseline} onInput={set('baseline')} />
        </div>
        <div class="field">
          <label for="plan-lift">{t('experiments.field.minLift')}</label>
          <input id="plan-lift" inputMode="decimal" value={form.lift} onInput={set('lift')} />
        </div>
        <div class="field">
          <label for="plan-users">{t('experiments.planner.users')}</label>
          <input id="plan-users" inputMode="numeric" value={form.users} onInput={set('users')} />
        </div>
        <button type="submit" disabled={plan.busy}>
          {t('experiments.planner.submit')}
        </button>
      </div>
      <ErrorBox error={plan.error} />
      {plan.result ? (
        <p class="ok" role="status" data-testid="plan">
          {t('experiments.planner.result', {
            control: plan.result.control_users,
            treatment: plan.result.treatment_users,
            lift: formatLift(plan.result.relative_lift),
            power: formatPercent(plan.result.power, 0),
          })}
        </p>
      ) : null}
    </form>
  );
}

export function ExperimentPage({ id }: { id: string }) {
  const { t } = useI18n();
  const experiment = useLoad(() => api<Experiment>(experimentPath(id)), [id]);
  const report = useLoad(() => api<ExperimentReport>(`${experimentPath(id)}/report`), [id]);
  const data = experiment.data;
  return (
    <section aria-labelledby="experiment-title">
      <p>
        <Link href="/experiments">{t('experiments.back')}</Link>
      </p>
      <h1 id="experiment-title">{data?.name ?? id}</h1>
      <ErrorBox error={experiment.error} />
      {data ? <ExperimentFacts experiment={data} /> : null}
      <ErrorBox error={report.error} />
      {data && report.data ? (
        <>
          <Scope scope={report.data.overall} experiment={data} title={t('experiments.overall')} />
          {report.data.segments.map((segment) => (
            <Scope
              key={segment.segment ?? ''}
              scope={segment}
              experiment={data}
              title={t('experiments.segment', { segment: segment.segment ?? '—' })}
            />
          ))}
          <p class="toolbar">
            {t('experiments.export')}:{' '}
            <a href={`${experimentPath(id)}/report.csv`} download={`${id}-report.csv`} data-format="csv">
              CSV
            </a>
            <a href={`${experimentPath(id)}/report`} download={`${id}-report.json`} data-format="json">
              JSON
            </a>
          </p>
        </>
      ) : null}
      {data ? <ImportCounts experiment={data} onImported={report.reload} /> : null}
    </section>
  );
}

function ExperimentFacts({ experiment }: { experiment: Experiment }) {
  const { t } = useI18n();
  return (
    <dl class="facts" data-testid="experiment-facts">
      <div>
        <dt>{t('experiments.field.id')}</dt>
        <dd>
          <code>{experiment.id}</code>
        </dd>
      </div>
      <div>
        <dt>{t('experiments.arms')}</dt>
        <dd>
          {experiment.arms
            .map(
              (arm) =>
                `${arm.name} (${arm.weight}${arm.style ? `, ${arm.style}` : ''}${arm.strength === undefined ? '' : ` @${arm.strength}`})`,
            )
            .join(' · ')}
        </dd>
      </div>
      <div>
        <dt>{t('experiments.control')}</dt>
        <dd>{experiment.control}</dd>
      </div>
      <div>
        <dt>{t('experiments.alpha')}</dt>
        <dd>{experiment.alpha}</dd>
      </div>
      <div>
        <dt>{t('experiments.col.planned')}</dt>
        <dd>
          {experiment.planned_users_per_arm === null
            ? t('experiments.noPlan')
            : t('experiments.plan', {
                users: experiment.planned_users_per_arm,
                baseline: formatPercent(experiment.baseline_ctr ?? 0, 1),
                lift: formatLift(experiment.min_detectable_lift),
                power: formatPercent(experiment.power, 0),
              })}
        </dd>
      </div>
    </dl>
  );
}

/** One scope of the report (all traffic, or one segment): verdict, arms, comparisons, sample-ratio check. */
function Scope({ scope, experiment, title }: { scope: ExperimentScope; experiment: Experiment; title: string }) {
  const { t } = useI18n();
  const message = verdictMessage(scope, experiment.control, experiment.planned_users_per_arm);
  const decision = scope.verdict.decision;
  return (
    <section class="card" data-scope={scope.segment ?? 'overall'} aria-label={title}>
      <h2>{title}</h2>
      <div class={decision === 'ship' ? 'ok' : 'notice'} data-testid="verdict" data-decision={decision}>
        <p>
          <strong>{t(`experiments.decision.${decision}`)}</strong> — {t(message.key, message.vars)}
          {message.testKey ? ` ${t('experiments.decidedBy', { test: t(message.testKey) })}` : ''}
        </p>
        <details>
          <summary>{t('common.details')}</summary>
          <p>{scope.verdict.reason}</p>
        </details>
      </div>
      <p class="muted">{t('experiments.days', { days: scope.days })}</p>
      <table data-testid="arms">
        <caption class="visually-hidden">{t('experiments.armsCaption')}</caption>
        <thead>
          <tr>
            <th scope="col">{t('experiments.col.arm')}</th>
            <th scope="col">{t('experiments.col.users')}</th>
            <th scope="col">{t('experiments.col.clicks')}</th>
            <th scope="col">CTR</th>
            <th scope="col">{t('experiments.col.ctrInterval')}</th>
          </tr>
        </thead>
        <tbody>
          {scope.arms.map((arm) => (
            <tr key={arm.arm} data-arm={arm.arm}>
              <th scope="row">
                {arm.arm}
                {arm.arm === experiment.control ? ` (${t('experiments.control')})` : ''}
              </th>
              <td>{arm.users}</td>
              <td>{arm.clicks}</td>
              <td>{formatPercent(arm.ctr)}</td>
              <td>{formatInterval(arm.ctr_interval, (v) => formatPercent(v))}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {scope.comparisons.length > 0 ? (
        <Comparisons comparisons={scope.comparisons} control={experiment.control} />
      ) : null}
      <p data-testid="srm" data-mismatch={String(scope.srm.mismatch)} class={scope.srm.mismatch ? 'notice' : 'muted'}>
        {t(scope.srm.mismatch ? 'experiments.srm.mismatch' : 'experiments.srm.ok', {
          chi: scope.srm.chi_square.toFixed(2),
          p: formatPValue(scope.srm.p_value),
        })}
      </p>
    </section>
  );
}

function Comparisons({ comparisons, control }: { comparisons: ArmComparison[]; control: string }) {
  const { t } = useI18n();
  const points = (value: number) => `${value >= 0 ? '+' : '−'}${(Math.abs(value) * 100).toFixed(2)} pp`;
  return (
    <div class="scroll-x">
      <table data-testid="comparisons">
        <caption class="visually-hidden">{t('experiments.comparisonsCaption', { control })}</caption>
        <thead>
          <tr>
            <th scope="col">{t('experiments.col.arm')}</th>
            <th scope="col">{t('experiments.col.lift')}</th>
            <th scope="col">{t('experiments.col.liftInterval')}</th>
            <th scope="col">{t('experiments.col.difference')}</th>
            <th scope="col">{t('experiments.col.fixedP')}</th>
            <th scope="col">{t('experiments.col.sequentialInterval')}</th>
            <th scope="col">{t('experiments.col.sequentialP')}</th>
          </tr>
        </thead>
        <tbody>
          {comparisons.map((each) => (
            <tr key={each.arm} data-arm={each.arm}>
              <th scope="row">{t('experiments.vs', { arm: each.arm, control })}</th>
              <td data-testid="lift">{formatLift(each.lift)}</td>
              <td>{formatInterval(each.lift_interval, (v) => formatLift(v))}</td>
              <td>
                {points(each.difference)} ({formatInterval(each.difference_interval, points)})
              </td>
              <td>
                {formatPValue(each.fixed.p_value)}
                {each.fixed.p_value_holm !== each.fixed.p_value
                  ? ` (${t('experiments.holm')} ${formatPValue(each.fixed.p_value_holm)})`
                  : ''}
              </td>
              <td>{formatInterval(each.sequential.lift_interval, (v) => formatLift(v))}</td>
              <td>
                {formatPValue(each.sequential.p_value)}
                {each.sequential.p_value_holm !== each.sequential.p_value
                  ? ` (${t('experiments.holm')} ${formatPValue(each.sequential.p_value_holm)})`
                  : ''}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <p class="help">{t('experiments.testsHelp')}</p>
    </div>
  );
}

/** Daily counts from the platform's own analytics: pasted or read from a file, then sent as CSV. */
function ImportCounts({ experiment, onImported }: { experiment: Experiment; onImported: () => void }) {
  const { t } = useI18n();
  const [csv, setCsv] = useState('');
  const send = useAction(() => api<{ rows: number }>(`${experimentPath(experiment.id)}/counts`, { json: { csv } }));
  const submit = async (event: Event) => {
    event.preventDefault();
    if (await send.run()) onImported();
  };
  const readFile = async (file: File | undefined) => {
    if (file) setCsv(await file.text());
  };
  const today = new Date().toISOString().slice(0, 10);
  return (
    <form class="card" onSubmit={submit} aria-labelledby="import-title" data-testid="import-counts">
      <h2 id="import-title">{t('experiments.import.title')}</h2>
      <p class="muted">{t('experiments.import.help')}</p>
      <div class="field">
        <label for="import-csv">{t('experiments.import.csv')}</label>
        <textarea
          id="import-csv"
          rows={6}
          required
          value={csv}
          placeholder={countsCsvTemplate(
            experiment.arms.map((arm) => arm.name),
            today,
          )}
          onInput={(event) => setCsv(event.currentTarget.value)}
        />
      </div>
      <div class="toolbar">
        <label class="button">
          {t('experiments.import.file')}
          <input
            type="file"
            accept=".csv,text/csv"
            class="visually-hidden"
            data-testid="import-file"
            onChange={(event) => void readFile(event.currentTarget.files?.[0])}
          />
        </label>
        <button
          type="button"
          onClick={() =>
            setCsv(
              countsCsvTemplate(
                experiment.arms.map((arm) => arm.name),
                today,
              ),
            )
          }
        >
          {t('experiments.import.template')}
        </button>
        <button type="submit" class="primary" disabled={send.busy || csv.trim() === ''}>
          {t('experiments.import.submit')}
        </button>
      </div>
      <ErrorBox error={send.error} />
      {send.result ? (
        <p class="ok" role="status">
          {t('experiments.import.done', { rows: send.result.rows })}
        </p>
      ) : null}
    </form>
  );
}

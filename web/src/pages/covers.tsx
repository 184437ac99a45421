// Covers: a city, province or region and a title → covers in the place's mapped style, each with its seed; the
// style, version and the level that matched, and whether an earlier identical request already made them.
import { useState } from 'preact/hooks';
import { api, type CoversResult, fileUrl } from '../api/index.js';
import { ErrorBox } from '../components/error-box.js';
import { useAction } from '../components/use-action.js';
import { COVER_SIZES, type CoverForm, coverBody, STARTING_COVER_FORM } from '../covers/index.js';
import { useI18n } from '../i18n/index.js';
import { Link } from '../router.js';

export function CoversPage() {
  const { t } = useI18n();
  const [form, setForm] = useState<CoverForm>(STARTING_COVER_FORM);
  const set = (key: Exclude<keyof CoverForm, 'titleOnImage'>) => (event: { currentTarget: { value: string } }) =>
    setForm((current) => ({ ...current, [key]: event.currentTarget.value }));
  const make = useAction(() => api<CoversResult>('/api/covers', { json: coverBody(form) }));
  const submit = (event: Event) => {
    event.preventDefault();
    void make.run();
  };
  return (
    <section aria-labelledby="covers-title">
      <h1 id="covers-title">{t('covers.title')}</h1>
      <p class="muted">
        {t('covers.intro')} <Link href="/regions">{t('nav.regions')}</Link>
      </p>
      <form class="card" onSubmit={submit} data-testid="cover-form">
        <div class="row">
          <div class="field">
            <label for="cover-level">{t('covers.level')}</label>
            <select id="cover-level" value={form.level} onChange={set('level')}>
              {(['city', 'province', 'region'] as const).map((level) => (
                <option key={level} value={level}>
                  {t(`regions.level.${level}`)}
                </option>
              ))}
            </select>
          </div>
          <div class="field">
            <label for="cover-place">{t('covers.place')}</label>
            <input id="cover-place" required maxLength={100} value={form.place} onInput={set('place')} />
          </div>
          <div class="field grow">
            <label for="cover-title">{t('covers.coverTitle')}</label>
            <input id="cover-title" required maxLength={200} value={form.title} onInput={set('title')} />
          </div>
        </div>
        <div class="field">
          <label for="cover-prompt">{t('covers.prompt')}</label>
          <input id="cover-prompt" maxLength={1000} value={form.prompt} onInput={set('prompt')} />
        </div>
        <div class="row">
          <div class="field">
            <label for="cover-n">{t('covers.n')}</label>
            <input id="cover-n" type="number" min={1} max={8} value={form.n} onInput={set('n')} />
          </div>
          <div class="field">
            <label for="cover-seed">{t('loras.seed')}</label>
            <input
              id="cover-seed"
              inputMode="numeric"
              placeholder={t('covers.seedAuto')}
              value={form.seed}
              onInput={set('seed')}
            />
          </div>
          <div class="field">
            <label for="cover-size">{t('covers.size')}</label>
            <input id="cover-size" list="cover-sizes" value={form.size} onInput={set('size')} />
            <datalist id="cover-sizes">
              {COVER_SIZES.map((size) => (
                <option key={size} value={size} />
              ))}
            </datalist>
          </div>
          <label class="check">
            <input
              type="checkbox"
              checked={form.titleOnImage}
              onChange={(event) => setForm((current) => ({ ...current, titleOnImage: event.currentTarget.checked }))}
            />{' '}
            {t('covers.titleOnImage')}
          </label>
        </div>
        <button type="submit" class="primary" disabled={make.busy}>
          {make.busy ? t('covers.making') : t('covers.make')}
        </button>
      </form>
      <ErrorBox error={make.error} />
      {make.result ? <CoverResults result={make.result} /> : null}
    </section>
  );
}

function CoverResults({ result }: { result: CoversResult }) {
  const { t } = useI18n();
  return (
    <section class="card" aria-labelledby="cover-results" data-testid="covers" data-cached={String(result.cached)}>
      <h2 id="cover-results">{t('covers.results', { count: result.covers.length })}</h2>
      <dl class="facts">
        <div>
          <dt>{t('regions.col.style')}</dt>
          <dd>
            <Link href={`/library/${encodeURIComponent(result.style)}`}>{result.style}</Link>
          </dd>
        </div>
        <div>
          <dt>{t('regions.col.version')}</dt>
          <dd>v{result.version}</dd>
        </div>
        <div>
          <dt>{t('covers.matched')}</dt>
          <dd>{t(`regions.level.${result.matched}`)}</dd>
        </div>
        <div>
          <dt>{t('covers.cached')}</dt>
          <dd data-testid="cached">{result.cached ? t('covers.cachedYes') : t('covers.cachedNo')}</dd>
        </div>
      </dl>
      <p>
        <strong>{t('job.prompt')}: </strong>
        <code>{result.prompt}</code>
      </p>
      <div class="image-row">
        {result.covers.map((cover) => (
          <figure key={cover.path} data-seed={cover.seed}>
            <a href={fileUrl(cover.path)} target="_blank" rel="noreferrer">
              <img src={fileUrl(cover.path)} alt={result.title ?? result.prompt} />
            </a>
            <figcaption>{t('covers.seed', { seed: cover.seed })}</figcaption>
          </figure>
        ))}
      </div>
    </section>
  );
}

// The studio's shell: skip link, navigation, language switch, and the page the address names.
import { useEffect } from 'preact/hooks';
import { LANGUAGES, type Language, useI18n } from './i18n/index.js';
import { DatasetPage } from './pages/dataset.js';
import { DatasetsPage } from './pages/datasets.js';
import { CoversPage } from './pages/covers.js';
import { ExperimentPage, ExperimentsPage } from './pages/experiments.js';
import { JobPage } from './pages/job.js';
import { JobsPage } from './pages/jobs.js';
import { LibraryPage, StylePage } from './pages/library.js';
import { LorasPage } from './pages/loras.js';
import { NewTrainingPage } from './pages/new-training.js';
import { RegionsPage } from './pages/regions.js';
import { Link, matchPath, navigate, useLocation } from './router.js';

const NAV = [
  { href: '/datasets', key: 'nav.datasets' },
  { href: '/train/new', key: 'nav.train' },
  { href: '/jobs', key: 'nav.jobs' },
  { href: '/loras', key: 'nav.loras' },
  { href: '/library', key: 'nav.library' },
  { href: '/regions', key: 'nav.regions' },
  { href: '/covers', key: 'nav.covers' },
  { href: '/experiments', key: 'nav.experiments' },
] as const;

/** Nav entries whose pages have pages under them (`/jobs/:id`): current on those too. */
const SECTIONS = ['/jobs', '/datasets', '/library', '/experiments'];

export function App() {
  const { t, language, setLanguage } = useI18n();
  const { path } = useLocation();
  useEffect(() => {
    if (path === '/' || path === '') navigate('/datasets', { replace: true });
  }, [path]);
  useEffect(() => {
    document.title = t('app.name');
  }, [t]);

  return (
    <>
      <a class="skip-link" href="#main">
        {t('app.skip')}
      </a>
      <header class="top">
        <Link href="/datasets" class="brand">
          {t('app.name')}
        </Link>
        <nav aria-label={t('nav.main')}>
          <ul>
            {NAV.map((item) => (
              <li key={item.href}>
                <Link href={item.href} aria-current={isCurrent(path, item.href) ? 'page' : undefined}>
                  {t(item.key)}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <label class="language">
          <span class="visually-hidden">{t('app.language')}</span>
          <select
            data-testid="language"
            aria-label={t('app.language')}
            value={language}
            onChange={(event) => setLanguage(event.currentTarget.value as Language)}
          >
            {LANGUAGES.map((option) => (
              <option key={option.id} value={option.id} lang={option.id}>
                {option.label}
              </option>
            ))}
          </select>
        </label>
      </header>
      <main id="main" tabIndex={-1}>
        <Page path={path} />
      </main>
    </>
  );
}

function isCurrent(path: string, href: string): boolean {
  if (SECTIONS.includes(href)) return path === href || path.startsWith(`${href}/`);
  return path === href;
}

function Page({ path }: { path: string }) {
  let params = matchPath('/datasets/:name', path);
  if (params) return <DatasetPage key={params.name} name={params.name!} />;
  params = matchPath('/jobs/:id', path);
  if (params) return <JobPage key={params.id} id={params.id!} />;
  params = matchPath('/library/:name', path);
  if (params) return <StylePage key={params.name} name={params.name!} />;
  params = matchPath('/experiments/:id', path);
  if (params) return <ExperimentPage key={params.id} id={params.id!} />;
  if (path === '/train/new') return <NewTrainingPage />;
  if (path === '/jobs') return <JobsPage />;
  if (path === '/loras') return <LorasPage />;
  if (path === '/library') return <LibraryPage />;
  if (path === '/regions') return <RegionsPage />;
  if (path === '/covers') return <CoversPage />;
  if (path === '/experiments') return <ExperimentsPage />;
  return <DatasetsPage />;
}

// Datasets: the list, and a new one made by uploading a folder or a zip.
import { useState } from 'preact/hooks';
import { ApiError, api, type DatasetSummary } from '../api/index.js';
import { ErrorBox } from '../components/error-box.js';
import { useLoad } from '../components/use-async.js';
import { UploadButtons } from '../datasets/upload.js';
import { formatTime, useI18n } from '../i18n/index.js';
import { Link, navigate } from '../router.js';

export function DatasetsPage() {
  const { t, language } = useI18n();
  const list = useLoad(() => api<{ datasets: DatasetSummary[] }>('/api/datasets'), []);
  const [name, setName] = useState('');
  const [nameError, setNameError] = useState<string | null>(null);

  const createDataset = async (): Promise<string | null> => {
    const wanted = name.trim();
    if (wanted === '') {
      setNameError(t('datasets.needName'));
      return null;
    }
    setNameError(null);
    try {
      await api('/api/datasets', { json: { name: wanted } });
    } catch (error) {
      // Uploading into a dataset that exists adds to it; anything else stops the upload.
      if (!(error instanceof ApiError && error.status === 409)) throw error;
    }
    return wanted;
  };

  return (
    <section aria-labelledby="datasets-title">
      <h1 id="datasets-title">{t('datasets.title')}</h1>
      <p class="muted">{t('datasets.intro')}</p>

      <form class="card" onSubmit={(event) => event.preventDefault()} aria-labelledby="new-dataset">
        <h2 id="new-dataset">{t('datasets.create')}</h2>
        <div class="field">
          <label for="dataset-name">{t('datasets.name')}</label>
          <input
            id="dataset-name"
            name="name"
            value={name}
            maxLength={64}
            aria-describedby="dataset-name-help"
            aria-invalid={nameError !== null}
            onInput={(event) => setName(event.currentTarget.value)}
          />
          <p id="dataset-name-help" class="help">
            {nameError ?? t('datasets.nameHelp')}
          </p>
        </div>
        <UploadButtons
          prepare={createDataset}
          onUploaded={(created) => navigate(`/datasets/${encodeURIComponent(created)}`)}
        />
      </form>

      <ErrorBox error={list.error} />
      {list.data ? (
        list.data.datasets.length === 0 ? (
          <p class="muted">{t('common.none')}</p>
        ) : (
          <table>
            <thead>
              <tr>
                <th scope="col">{t('datasets.col.name')}</th>
                <th scope="col">{t('datasets.col.images')}</th>
                <th scope="col">{t('datasets.col.captioned')}</th>
                <th scope="col">{t('datasets.col.trigger')}</th>
                <th scope="col">{t('datasets.col.updated')}</th>
              </tr>
            </thead>
            <tbody>
              {list.data.datasets.map((dataset) => (
                <tr key={dataset.name}>
                  <td>
                    <Link href={`/datasets/${encodeURIComponent(dataset.name)}`}>{dataset.name}</Link>
                  </td>
                  <td>{dataset.images}</td>
                  <td>{dataset.captioned}</td>
                  <td>{dataset.trigger_word ?? '—'}</td>
                  <td>{formatTime(language, dataset.updated_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )
      ) : list.loading ? (
        <p class="muted">{t('common.loading')}</p>
      ) : null}
    </section>
  );
}

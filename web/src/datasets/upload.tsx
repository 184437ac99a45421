// Upload a folder (each file's relative path kept) or a zip into a dataset; reports what was added and skipped.
import { useState } from 'preact/hooks';
import { api, type UploadResult } from '../api/index.js';
import { ErrorBox } from '../components/error-box.js';
import { useI18n } from '../i18n/index.js';

/** The upload body: one zip as application/zip, anything else as multipart `files` parts named by relative path. */
export function uploadRequest(files: readonly File[]): { body: BodyInit; contentType?: string } {
  const only = files[0];
  if (files.length === 1 && only && /\.zip$/i.test(only.name)) return { body: only, contentType: 'application/zip' };
  const form = new FormData();
  const names = uploadNames(files.map((file) => file.webkitRelativePath || file.name));
  files.forEach((file, index) => {
    form.append('files', file, names[index]);
  });
  return { body: form };
}

/**
 * The names files are sent under: their paths inside the chosen folder. A folder upload names each file
 * `<chosen folder>/<path>`; that first segment is the folder itself, not a subfolder of the dataset.
 */
export function uploadNames(paths: readonly string[]): string[] {
  const first = (path: string) => (path.includes('/') ? path.slice(0, path.indexOf('/')) : null);
  const top = paths.length > 0 ? first(paths[0]!) : null;
  if (top === null || !paths.every((path) => first(path) === top)) return [...paths];
  return paths.map((path) => path.slice(top.length + 1));
}

export async function uploadToDataset(name: string, files: readonly File[]): Promise<UploadResult> {
  const { body, contentType } = uploadRequest(files);
  const options = contentType ? { method: 'POST', body, contentType } : { method: 'POST', body };
  return api<UploadResult>(`/api/datasets/${encodeURIComponent(name)}/upload`, options);
}

export function UploadButtons({
  prepare,
  onUploaded,
}: {
  /** Called first (e.g. to create the dataset); returns the dataset name, or null to stop. */
  prepare: () => Promise<string | null>;
  onUploaded: (name: string, result: UploadResult) => void;
}) {
  const { t } = useI18n();
  const [busy, setBusy] = useState<number | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [result, setResult] = useState<UploadResult | null>(null);

  const send = async (input: HTMLInputElement) => {
    const files = [...(input.files ?? [])];
    input.value = '';
    if (files.length === 0) return;
    setError(null);
    setResult(null);
    try {
      const name = await prepare();
      if (name === null) return;
      setBusy(files.length);
      const uploaded = await uploadToDataset(name, files);
      setResult(uploaded);
      onUploaded(name, uploaded);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(null);
    }
  };

  return (
    <div class="upload">
      <label class="button">
        {t('datasets.uploadFolder')}
        <input
          type="file"
          class="visually-hidden"
          data-testid="upload-folder"
          // @ts-expect-error webkitdirectory is not in the DOM types but every current browser has it.
          webkitdirectory
          multiple
          disabled={busy !== null}
          onChange={(event) => send(event.currentTarget)}
        />
      </label>
      <label class="button">
        {t('datasets.uploadZip')}
        <input
          type="file"
          class="visually-hidden"
          data-testid="upload-files"
          accept=".zip,image/*,.txt"
          multiple
          disabled={busy !== null}
          onChange={(event) => send(event.currentTarget)}
        />
      </label>
      <p aria-live="polite" class="muted">
        {busy !== null ? t('datasets.uploading', { count: busy }) : null}
        {result ? t('datasets.added', { count: result.added.length }) : null}
      </p>
      {result && result.skipped.length > 0 ? (
        <div class="notice">
          <p>{t('datasets.skipped', { count: result.skipped.length })}</p>
          <ul>
            {result.skipped.map((skip) => (
              <li key={skip.file}>
                <code>{skip.file}</code>: {skip.reason}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      <ErrorBox error={error} />
    </div>
  );
}

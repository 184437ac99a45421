// The report shell: the newest finished `prepare` job of a dataset, from the store, and its report file.
import { readFileSync } from 'node:fs';
import { prepareReportSchema, REPORT_JSON } from '../../dataset/index.js';
import type { Job, JobStore } from '../../store/index.js';
import { resolveInWorkspace } from '../security/index.js';
import { datasetNameOfPath } from './dataset-name.js';
import { DatasetRequestError } from './request-error.js';
import { type DatasetReport, reportOutputOf, reportView } from './report-view.js';

/** The newest done `prepare` job of dataset `name` whose report can be read, as the studio shows it; else 404. */
export async function readDatasetReport(store: JobStore, workspace: string, name: string): Promise<DatasetReport> {
  const jobs = await store.listJobs({ kind: 'prepare', status: 'done' });
  for (const job of jobs.filter((candidate) => preparedDataset(candidate) === name)) {
    const report = readReportOf(job, workspace);
    if (report !== null) return reportView(report, job.id, name);
  }
  throw new DatasetRequestError(404, 'has no prepare report yet', {
    code: 'no_report',
    culprit: `dataset \`${name}\``,
    hint: `run a prepare job on it: POST /api/jobs {"kind":"prepare","config":{"dataset":"datasets/${name}"}}`,
    field: 'name',
  });
}

function preparedDataset(job: Job): string | null {
  const dataset = job.config.dataset;
  return typeof dataset === 'string' ? datasetNameOfPath(dataset) : null;
}

/** The job's report, or null when it named none or the file is gone, damaged or of another schema version. */
function readReportOf(job: Job, workspace: string) {
  const output = reportOutputOf(job.outputs, REPORT_JSON);
  if (output === null) return null;
  try {
    const parsed = prepareReportSchema.safeParse(
      JSON.parse(readFileSync(resolveInWorkspace(workspace, output), 'utf8')),
    );
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

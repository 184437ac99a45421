// Pure: a `prepare` report as the studio shows it — each picture ok, warned or excluded, with the reasons why.
import type { PrepareReport } from '../../dataset/index.js';
import { datasetPath } from './dataset-name.js';

export type ImageVerdict = 'ok' | 'warning' | 'excluded';

export interface DatasetReport {
  job_id: string;
  images: {
    file: string;
    path: string;
    status: ImageVerdict;
    reasons: { code: string; message: string; hint: string }[];
  }[];
  summary: PrepareReport['summary'];
}

export function reportView(report: PrepareReport, jobId: string, datasetName: string): DatasetReport {
  const reasons = new Map<string, DatasetReport['images'][number]['reasons']>();
  for (const finding of report.findings) {
    const list = reasons.get(finding.image) ?? [];
    list.push({ code: finding.rule, message: finding.message, hint: finding.hint });
    reasons.set(finding.image, list);
  }
  const images = report.images.map((image) => {
    const found = reasons.get(image.image) ?? [];
    const status: ImageVerdict = image.status === 'excluded' ? 'excluded' : found.length > 0 ? 'warning' : 'ok';
    return { file: image.image, path: `${datasetPath(datasetName)}/${image.image}`, status, reasons: found };
  });
  return { job_id: jobId, images, summary: report.summary };
}

/** The output that is the report's JSON file, among a prepare job's outputs. */
export function reportOutputOf(outputs: readonly string[], reportFileName: string): string | null {
  return outputs.find((output) => output === reportFileName || output.endsWith(`/${reportFileName}`)) ?? null;
}

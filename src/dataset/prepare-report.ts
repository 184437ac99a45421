// The `prepare` report, pure: its JSON schema (stable: tools read it; bump `schema_version` when a field is renamed or
// removed) and its two human renderings, a terminal table and a self-contained HTML page.
import { z } from 'zod';

/** Bump when a field is renamed or removed; adding a field keeps it. */
export const PREPARE_REPORT_VERSION = 1;

const severity = z.enum(['block', 'exclude', 'warn']);
const finding = z.strictObject({
  image: z.string(),
  rule: z.string(),
  severity,
  message: z.string(),
  hint: z.string(),
});
const size = z.strictObject({ width_px: z.number().int(), height_px: z.number().int() });

export const prepareReportSchema = z.strictObject({
  schema_version: z.literal(PREPARE_REPORT_VERSION),
  tool_version: z.string(),
  /** `failed`: `--strict` and something was flagged; the prepared copy was not written. */
  status: z.enum(['ok', 'failed']),
  input_dir: z.string(),
  output_dir: z.string(),
  captions_from: z.string(),
  options: z.strictObject({
    target_px: z.number().int(),
    crop: z.enum(['center', 'attention', 'entropy']),
    buckets: z.boolean(),
    strict: z.boolean(),
    trigger_word: z.string().nullable(),
    thresholds: z.strictObject({
      max_upscale: z.number(),
      min_sharpness: z.number(),
      min_bright_percentile: z.number(),
      max_dark_percentile: z.number(),
      min_contrast: z.number(),
      max_aspect: z.number(),
      duplicate_distance: z.number(),
      min_caption_words: z.number(),
      duplicate_caption_count: z.number(),
    }),
  }),
  summary: z.strictObject({
    images: z.number().int(),
    kept: z.number().int(),
    excluded: z.number().int(),
    warnings: z.number().int(),
    rotated_upright: z.number().int(),
    by_rule: z.record(z.string(), z.number().int()),
  }),
  buckets: z.array(size.extend({ images: z.number().int() })).nullable(),
  images: z.array(
    z.strictObject({
      image: z.string(),
      /** What the rules decided; with `status: failed` nothing was written whatever this says. */
      status: z.enum(['kept', 'excluded']),
      /** Path in the prepared folder; `null` when excluded (or when the run failed). */
      output: z.string().nullable(),
      /** After EXIF orientation. */
      width_px: z.number().int(),
      height_px: z.number().int(),
      exif_orientation: z.number().int(),
      caption: z.string().nullable(),
      stats: z
        .strictObject({
          sharpness: z.number(),
          brightness: z.number(),
          contrast: z.number(),
          dark_percentile: z.number(),
          bright_percentile: z.number(),
        })
        .nullable(),
      hash: z.string().nullable(),
      size: size.nullable(),
    }),
  ),
  findings: z.array(finding),
});

export type PrepareReport = z.infer<typeof prepareReportSchema>;
type ReportFinding = PrepareReport['findings'][number];

const TABLE_ROWS = 40;

function pad(text: string, width: number): string {
  return text.length > width ? `${text.slice(0, width - 1)}…` : text.padEnd(width);
}

/** The summary line plus one row per finding (the first 40; the HTML page has them all). */
export function reportTable(report: PrepareReport, htmlPath: string): string {
  const { summary } = report;
  const lines = [
    `${summary.images} images: ${summary.kept} kept, ${summary.excluded} excluded, ${summary.warnings} warnings` +
      (summary.rotated_upright > 0 ? `, ${summary.rotated_upright} turned upright from EXIF orientation` : ''),
  ];
  if (report.findings.length > 0) {
    const imageWidth = Math.min(36, Math.max(5, ...report.findings.map((f) => f.image.length)));
    const ruleWidth = Math.max(4, ...report.findings.map((f) => f.rule.length));
    lines.push('', `${pad('image', imageWidth)}  ${pad('rule', ruleWidth)}  ${pad('severity', 8)}  message`);
    for (const f of report.findings.slice(0, TABLE_ROWS))
      lines.push(`${pad(f.image, imageWidth)}  ${pad(f.rule, ruleWidth)}  ${pad(f.severity, 8)}  ${f.message}`);
    if (report.findings.length > TABLE_ROWS) lines.push(`… ${report.findings.length - TABLE_ROWS} more in ${htmlPath}`);
  }
  if (report.buckets)
    lines.push('', `buckets: ${report.buckets.map((b) => `${b.width_px}×${b.height_px} (${b.images})`).join(', ')}`);
  return `${lines.join('\n')}\n`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

function findingItem(f: ReportFinding): string {
  return `<li class="${f.severity}"><b>${escapeHtml(f.severity)}</b> <code>${escapeHtml(f.rule)}</code> ${escapeHtml(f.message)}<br><small>hint: ${escapeHtml(f.hint)}</small></li>`;
}

/**
 * One row per flagged image, worst first, with its thumbnail. `thumbnails` maps an image to a `data:` URI, so the page
 * is one file: it can be mailed or archived without a folder beside it.
 */
export function reportHtml(report: PrepareReport, thumbnails: ReadonlyMap<string, string>): string {
  const byImage = new Map<string, ReportFinding[]>();
  for (const f of report.findings) byImage.set(f.image, [...(byImage.get(f.image) ?? []), f]);
  const rows = [...byImage].map(([image, findings]) => {
    const thumb = thumbnails.get(image);
    const picture = thumb ? `<img src="${thumb}" alt="">` : '<div class="none">no preview</div>';
    const isExcluded = findings.some((f) => f.severity !== 'warn');
    return `<tr class="${isExcluded ? 'excluded' : 'kept'}"><td>${picture}</td><td><b>${escapeHtml(image)}</b><br>${isExcluded ? 'excluded' : 'kept'}</td><td><ul>${findings.map(findingItem).join('')}</ul></td></tr>`;
  });
  const s = report.summary;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>prepare report: ${escapeHtml(report.input_dir)}</title>
<style>
body{font:14px system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse}td{border-top:1px solid #ddd;padding:8px;vertical-align:top}
img{max-width:160px;max-height:160px}.none{width:160px;height:60px;background:#eee;color:#888;text-align:center;line-height:60px}
ul{margin:0;padding-left:1.2em}li.exclude b,li.block b{color:#b00}li.warn b{color:#a60}tr.excluded td:first-child{opacity:.6}small{color:#666}
</style></head><body>
<h1>prepare report</h1>
<p><code>${escapeHtml(report.input_dir)}</code> → <code>${escapeHtml(report.output_dir)}</code>${report.status === 'failed' ? ' <b>(failed: --strict, nothing prepared)</b>' : ''}</p>
<p>${s.images} images: ${s.kept} kept, ${s.excluded} excluded, ${s.warnings} warnings. Target ${report.options.target_px} px, ${report.options.buckets ? 'aspect-ratio buckets' : `${report.options.crop} crop`}. Captions from ${escapeHtml(report.captions_from)}.</p>
${rows.length === 0 ? '<p>Nothing flagged.</p>' : `<table>${rows.join('\n')}</table>`}
</body></html>
`;
}

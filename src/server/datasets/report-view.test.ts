// The prepare report as the studio shows it, and finding the report among a job's outputs.
import { describe, expect, it } from 'vitest';
import type { PrepareReport } from '../../dataset/index.js';
import { reportOutputOf, reportView } from './report-view.js';

const image = (name: string, status: 'kept' | 'excluded') => ({
  image: name,
  status,
  output: status === 'kept' ? name : null,
  width_px: 512,
  height_px: 512,
  exif_orientation: 1,
  caption: 'a caption',
  stats: null,
  hash: null,
  size: null,
});

const finding = (name: string, rule: string, severity: 'warn' | 'exclude') => ({
  image: name,
  rule,
  severity,
  message: `${rule} message`,
  hint: `${rule} hint`,
});

describe('reportView', () => {
  it('marks each picture ok, warning or excluded with every reason, and keeps the summary', () => {
    const summary = { images: 3, kept: 2, excluded: 1, warnings: 2, rotated_upright: 0, by_rule: { 'vague-words': 1 } };
    const report = {
      summary,
      images: [image('a.png', 'kept'), image('sub/b.png', 'kept'), image('c.png', 'excluded')],
      findings: [
        finding('c.png', 'resolution', 'exclude'),
        finding('c.png', 'vague-words', 'warn'),
        finding('sub/b.png', 'vague-words', 'warn'),
      ],
    } as unknown as PrepareReport;
    expect(reportView(report, 'job-1', 'town')).toEqual({
      job_id: 'job-1',
      summary,
      images: [
        { file: 'a.png', path: 'datasets/town/a.png', status: 'ok', reasons: [] },
        {
          file: 'sub/b.png',
          path: 'datasets/town/sub/b.png',
          status: 'warning',
          reasons: [{ code: 'vague-words', message: 'vague-words message', hint: 'vague-words hint' }],
        },
        {
          file: 'c.png',
          path: 'datasets/town/c.png',
          status: 'excluded',
          reasons: [
            { code: 'resolution', message: 'resolution message', hint: 'resolution hint' },
            { code: 'vague-words', message: 'vague-words message', hint: 'vague-words hint' },
          ],
        },
      ],
    });
  });

  it('finds the report file among the outputs', () => {
    expect(
      reportOutputOf(
        ['out/town', 'out/town/prepare-report.html', 'out/town/prepare-report.json'],
        'prepare-report.json',
      ),
    ).toBe('out/town/prepare-report.json');
    expect(reportOutputOf(['prepare-report.json'], 'prepare-report.json')).toBe('prepare-report.json');
    expect(reportOutputOf(['out/not-prepare-report.json'], 'prepare-report.json')).toBeNull();
  });
});

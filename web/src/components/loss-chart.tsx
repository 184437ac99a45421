// Loss (raw and smoothed) and learning rate by step, in uPlot; redrawn in place as points arrive.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { useI18n } from '../i18n/index.js';
import { chartColumns, type LossPoint } from '../training/view-state.js';

const STEP_TICKS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000];

export function LossChart({
  points,
  validation,
}: {
  points: LossPoint[];
  validation: { step: number; loss: number }[];
}) {
  const { t, language } = useI18n();
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  // Rebuilt when the language changes (series labels); data updates go through setData below.
  useEffect(() => {
    const element = host.current;
    if (!element) return;
    const width = Math.max(320, element.clientWidth || 640);
    const options: uPlot.Options = {
      width,
      height: 260,
      scales: { x: { time: false }, lr: { auto: true } },
      axes: [
        // Steps are whole numbers: no 1.2, 1.4 ticks on a short run.
        { label: t('common.step'), incrs: STEP_TICKS },
        { label: t('job.loss'), scale: 'y' },
        {
          label: t('job.lr'),
          scale: 'lr',
          side: 1,
          grid: { show: false },
          values: (_u, ticks) => ticks.map((v) => v.toExponential(0)),
        },
      ],
      series: [
        { label: t('common.step') },
        { label: t('job.lossRaw'), stroke: '#9db5ae', width: 1, scale: 'y' },
        { label: t('job.lossSmoothed'), stroke: '#1f5f4f', width: 2, scale: 'y' },
        { label: t('job.lr'), stroke: '#c07a2c', width: 1, dash: [4, 4], scale: 'lr' },
        { label: t('job.validation'), stroke: '#6b3fa0', width: 2, scale: 'y', spanGaps: true, points: { show: true } },
      ],
    };
    plot.current = new uPlot(options, chartColumns(points, validation) as uPlot.AlignedData, element);
    const resize = new ResizeObserver(() =>
      plot.current?.setSize({ width: Math.max(320, element.clientWidth), height: 260 }),
    );
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [language]);

  useEffect(() => {
    plot.current?.setData(chartColumns(points, validation) as uPlot.AlignedData);
  }, [points, validation]);

  return (
    <figure class="chart">
      <div ref={host} role="img" aria-label={t('job.chart')} data-testid="loss-chart" data-points={points.length} />
      <figcaption class="muted">{points.length === 0 ? t('job.chartEmpty') : t('job.chart')}</figcaption>
    </figure>
  );
}

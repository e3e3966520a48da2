/** A small SVG line chart of one metric's history (themed through CSS variables). */

import { chartGeometry } from './chart';
import { h, s } from './dom';
import { formatNumber } from './format';
import { IMetricSeries } from './tokens';

const WIDTH = 240;
const HEIGHT = 64;

export function metricChart(key: string, series: IMetricSeries, latest: number | null): HTMLElement {
  const geometry = chartGeometry(series.points, WIDTH, HEIGHT);
  const svg = s(
    'svg',
    {
      class: 'mlops-chart',
      viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
      preserveAspectRatio: 'none',
      role: 'img',
      'aria-label': `${key} over ${series.total} steps`
    },
    s('path', { class: 'mlops-chart-line', d: geometry.path, 'vector-effect': 'non-scaling-stroke' })
  );
  if (geometry.last) {
    svg.appendChild(s('circle', { class: 'mlops-chart-dot', cx: geometry.last.x, cy: geometry.last.y, r: 2.5 }));
  }
  const range =
    geometry.minValue === null
      ? 'no finite values'
      : `${formatNumber(geometry.minValue)} … ${formatNumber(geometry.maxValue)} · steps ${geometry.minStep}–${geometry.maxStep}`;
  const sampled = series.points.length < series.total ? ` (${series.points.length} of ${series.total} points shown)` : '';
  return h(
    'figure',
    { class: 'mlops-metric', 'data-metric': key },
    h(
      'figcaption',
      {},
      h('span', { class: 'mlops-metric-key' }, key),
      h('span', { class: 'mlops-metric-value' }, formatNumber(latest))
    ),
    svg,
    h('div', { class: 'mlops-metric-range' }, range + sampled)
  );
}

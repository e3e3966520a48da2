/** Geometry of the small metric charts (pure: the SVG elements are built in `views`). */

import { IMetricPoint } from './tokens';

export interface IChartGeometry {
  /** SVG path `d` attribute, empty when there is nothing to draw. */
  path: string;
  /** Coordinates of the last point (a dot marks it). */
  last: { x: number; y: number } | null;
  minValue: number | null;
  maxValue: number | null;
  minStep: number | null;
  maxStep: number | null;
}

/**
 * Map points to a `width` x `height` box with `pad` pixels inside each edge. Steps go left to
 * right, values bottom to top; null (NaN) values break the line into segments.
 */
export function chartGeometry(
  points: IMetricPoint[],
  width: number,
  height: number,
  pad = 4
): IChartGeometry {
  const finite = points.filter(p => p.value !== null && Number.isFinite(p.value));
  if (finite.length === 0) {
    return { path: '', last: null, minValue: null, maxValue: null, minStep: null, maxStep: null };
  }
  const values = finite.map(p => p.value as number);
  const minValue = Math.min(...values);
  const maxValue = Math.max(...values);
  const minStep = Math.min(...points.map(p => p.step));
  const maxStep = Math.max(...points.map(p => p.step));
  const spanX = maxStep - minStep || 1;
  const spanY = maxValue - minValue || 1;
  const x = (step: number) =>
    maxStep === minStep ? width / 2 : pad + ((step - minStep) / spanX) * (width - 2 * pad);
  const y = (value: number) =>
    maxValue === minValue
      ? height / 2
      : height - pad - ((value - minValue) / spanY) * (height - 2 * pad);
  const parts: string[] = [];
  let penDown = false;
  let last: { x: number; y: number } | null = null;
  for (const point of points) {
    if (point.value === null || !Number.isFinite(point.value)) {
      penDown = false;
      continue;
    }
    last = { x: round(x(point.step)), y: round(y(point.value)) };
    parts.push(`${penDown ? 'L' : 'M'}${last.x} ${last.y}`);
    penDown = true;
  }
  if (finite.length === 1 && last) {
    // A single point: a short horizontal tick so it is visible.
    parts.push(`L${round(last.x + 0.01)} ${last.y}`);
  }
  return { path: parts.join(' '), last, minValue, maxValue, minStep, maxStep };
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

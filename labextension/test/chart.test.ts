import { describe, expect, it } from 'vitest';

import { chartGeometry } from '../src/chart';

describe('chartGeometry', () => {
  it('maps steps left to right and values bottom to top', () => {
    const g = chartGeometry(
      [
        { step: 0, value: 0, timestamp: 0 },
        { step: 10, value: 1, timestamp: 0 }
      ],
      100,
      50,
      0
    );
    expect(g.path).toBe('M0 50 L100 0');
    expect(g.last).toEqual({ x: 100, y: 0 });
    expect([g.minValue, g.maxValue, g.minStep, g.maxStep]).toEqual([0, 1, 0, 10]);
  });
  it('breaks the line at missing values', () => {
    const g = chartGeometry(
      [
        { step: 0, value: 1, timestamp: 0 },
        { step: 1, value: null, timestamp: 0 },
        { step: 2, value: 3, timestamp: 0 }
      ],
      20,
      10,
      0
    );
    expect(g.path).toBe('M0 10 M20 0');
  });
  it('draws a flat series in the middle and a single point visibly', () => {
    const flat = chartGeometry(
      [
        { step: 0, value: 2, timestamp: 0 },
        { step: 1, value: 2, timestamp: 0 }
      ],
      10,
      10,
      0
    );
    expect(flat.path).toBe('M0 5 L10 5');
    const single = chartGeometry([{ step: 3, value: 7, timestamp: 0 }], 10, 10, 0);
    expect(single.path.startsWith('M5 5 L')).toBe(true);
  });
  it('returns an empty path when no value is finite', () => {
    expect(chartGeometry([{ step: 0, value: null, timestamp: 0 }], 10, 10).path).toBe('');
    expect(chartGeometry([], 10, 10).last).toBeNull();
  });
});

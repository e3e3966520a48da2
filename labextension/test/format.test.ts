import { describe, expect, it } from 'vitest';

import {
  anyRunning,
  formatBytes,
  formatCount,
  formatDuration,
  formatNumber,
  formatTime,
  formatValue,
  keyMetrics,
  pageLabel,
  sortRuns,
  versionMismatch
} from '../src/format';
import { IRunSummary } from '../src/tokens';

function run(name: string, extra: Partial<IRunSummary> = {}): IRunSummary {
  return {
    run_id: name.padEnd(32, '0'),
    name,
    experiment: 'default',
    status: 'finished',
    kind: 'run',
    parent_id: null,
    user: 'ana',
    start_time: 100,
    end_time: 110,
    duration: 10,
    reproducible: null,
    params: {},
    metrics: {},
    ...extra
  };
}

describe('formatNumber', () => {
  it('keeps four significant digits and drops trailing zeros', () => {
    expect(formatNumber(0.912345)).toBe('0.9123');
    expect(formatNumber(0.5)).toBe('0.5');
    expect(formatNumber(12.0)).toBe('12');
    expect(formatNumber(123456.7)).toBe('123500');
  });
  it('uses exponents for tiny and huge values', () => {
    expect(formatNumber(0.0000123)).toBe('1.23e-5');
    expect(formatNumber(2.5e9)).toBe('2.5e+9');
  });
  it('shows missing and infinite values', () => {
    expect(formatNumber(null)).toBe('–');
    expect(formatNumber(NaN)).toBe('–');
    expect(formatNumber(Infinity)).toBe('∞');
    expect(formatNumber(-Infinity)).toBe('−∞');
  });
});

describe('formatValue', () => {
  it('prints strings as they are and structures as JSON', () => {
    expect(formatValue('<b>rf</b>')).toBe('<b>rf</b>');
    expect(formatValue([1, 2])).toBe('[1,2]');
    expect(formatValue({ a: true })).toBe('{"a":true}');
    expect(formatValue(null)).toBe('–');
  });
});

describe('durations, times, sizes and counts', () => {
  it('formats durations on a human scale', () => {
    expect(formatDuration(0.25)).toBe('250 ms');
    expect(formatDuration(12.34)).toBe('12.3 s');
    expect(formatDuration(245)).toBe('4 min 05 s');
    expect(formatDuration(7380)).toBe('2 h 03 min');
    expect(formatDuration(null)).toBe('–');
    expect(formatDuration(-1)).toBe('–');
  });
  it('formats times relative to now, then as dates', () => {
    expect(formatTime(1000, 1010)).toBe('just now');
    expect(formatTime(1000, 1000 + 300)).toBe('5 min ago');
    expect(formatTime(1000, 1000 + 3 * 3600)).toBe('3 h ago');
    expect(formatTime(0, 10 * 86400)).toBe('1970-01-01');
  });
  it('formats sizes in binary units', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(12 * 1024 * 1024)).toBe('12 MiB');
  });
  it('groups thousands and labels pages', () => {
    expect(formatCount(10000)).toBe('10,000');
    expect(pageLabel(0, 50, 10000)).toBe('1–50 of 10,000');
    expect(pageLabel(9950, 50, 10000)).toBe('9,951–10,000 of 10,000');
    expect(pageLabel(0, 0, 0)).toBe('0 of 0');
  });
});

describe('sortRuns', () => {
  const runs = [
    run('b', { metrics: { auc: 0.7 }, status: 'failed' }),
    run('a', { metrics: { auc: 0.9 }, status: 'running' }),
    run('c', { metrics: {}, status: 'finished' })
  ];
  it('sorts by a metric with missing values last in both directions', () => {
    expect(sortRuns(runs, 'metrics.auc', true).map(r => r.name)).toEqual(['a', 'b', 'c']);
    expect(sortRuns(runs, 'metrics.auc', false).map(r => r.name)).toEqual(['b', 'a', 'c']);
  });
  it('sorts by name and puts running runs first by status', () => {
    expect(sortRuns(runs, 'name', false).map(r => r.name)).toEqual(['a', 'b', 'c']);
    expect(sortRuns(runs, 'status', false).map(r => r.status)).toEqual(['running', 'failed', 'finished']);
  });
  it('is stable and does not mutate its input', () => {
    const same = [run('x'), run('y'), run('z')];
    expect(sortRuns(same, 'duration', true).map(r => r.name)).toEqual(['x', 'y', 'z']);
    expect(runs[0].name).toBe('b');
  });
});

describe('keyMetrics and anyRunning', () => {
  it('picks the metrics most runs have', () => {
    const runs = [
      run('a', { metrics: { auc: 1, loss: 1, z: 1 } }),
      run('b', { metrics: { auc: 1, loss: 1 } }),
      run('c', { metrics: { auc: 1 } })
    ];
    expect(keyMetrics(runs, 2)).toEqual(['auc', 'loss']);
  });
  it('knows when a run is going', () => {
    expect(anyRunning([run('a'), run('b', { status: 'running' })])).toBe(true);
    expect(anyRunning([run('a')])).toBe(false);
  });
});

describe('versionMismatch', () => {
  it('is silent when both sides match', () => {
    expect(versionMismatch({ version: '0.1.0', api: 1 }, { version: '0.1.0', api: 1 })).toBeNull();
  });
  it('names the version to reinstall', () => {
    const message = versionMismatch({ version: '0.2.0', api: 1 }, { version: '0.1.0', api: 1 });
    expect(message).toContain('0.2.0');
    expect(message).toContain('pip install --force-reinstall "mlops_nb==0.2.0"');
  });
  it('says the API differs when it does', () => {
    expect(versionMismatch({ version: '1.0.0', api: 2 }, { version: '0.1.0', api: 1 })).toContain('cannot talk');
  });
});

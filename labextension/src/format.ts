/** Pure formatting and ordering helpers (no DOM, no JupyterLab): unit-tested with Vitest. */

import { IRunSummary, JSONValue, RunStatus } from './tokens';

/** A number as a human reads it: 4 significant digits, no trailing zeros, exponent if tiny/huge. */
export function formatNumber(value: number | null | undefined): string {
  if (value === null || value === undefined || Number.isNaN(value)) {
    return '–';
  }
  if (!Number.isFinite(value)) {
    return value > 0 ? '∞' : '−∞';
  }
  if (Number.isInteger(value) && Math.abs(value) < 1e6) {
    return String(value);
  }
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) {
    return value.toExponential(3).replace(/\.?0+e/, 'e');
  }
  return String(Number(value.toPrecision(4)));
}

/** A param or other JSON value in one short line. */
export function formatValue(value: JSONValue | undefined): string {
  if (value === undefined || value === null) {
    return '–';
  }
  if (typeof value === 'number') {
    return formatNumber(value);
  }
  if (typeof value === 'string') {
    return value;
  }
  return JSON.stringify(value);
}

/** Seconds as `850 ms`, `12.3 s`, `4 min 05 s`, `2 h 03 min`. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) {
    return '–';
  }
  if (seconds < 1) {
    return `${Math.round(seconds * 1000)} ms`;
  }
  if (seconds < 60) {
    return `${Number(seconds.toFixed(1))} s`;
  }
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) {
    return `${minutes} min ${String(Math.floor(seconds % 60)).padStart(2, '0')} s`;
  }
  const hours = Math.floor(minutes / 60);
  return `${hours} h ${String(minutes % 60).padStart(2, '0')} min`;
}

/** A UNIX time relative to `now` (both seconds): `just now`, `5 min ago`, `3 h ago`, or a date. */
export function formatTime(time: number | null | undefined, now: number): string {
  if (time === null || time === undefined) {
    return '–';
  }
  const delta = now - time;
  if (delta < 45) {
    return 'just now';
  }
  if (delta < 3600) {
    return `${Math.round(delta / 60)} min ago`;
  }
  if (delta < 86400) {
    return `${Math.round(delta / 3600)} h ago`;
  }
  return new Date(time * 1000).toISOString().slice(0, 10);
}

/** Full timestamp for tooltips: `2026-11-26 14:03:07 UTC`. */
export function formatTimestamp(time: number | null | undefined): string {
  if (time === null || time === undefined) {
    return '–';
  }
  return new Date(time * 1000).toISOString().replace('T', ' ').slice(0, 19) + ' UTC';
}

/** Bytes as `512 B`, `1.5 KiB`, `12 MiB`. */
export function formatBytes(size: number | null | undefined): string {
  if (size === null || size === undefined || size < 0) {
    return '–';
  }
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = size;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${Number(value.toPrecision(3))} ${units[unit]}`;
}

/** Thousands separators, locale-independent: `10,000`. */
export function formatCount(value: number | null | undefined): string {
  if (value === null || value === undefined) {
    return '–';
  }
  return String(value).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** `1–50 of 10,000` for a page. */
export function pageLabel(offset: number, count: number, total: number): string {
  if (total === 0 || count === 0) {
    return `0 of ${formatCount(total)}`;
  }
  return `${formatCount(offset + 1)}–${formatCount(offset + count)} of ${formatCount(total)}`;
}

const STATUS_ORDER: Record<RunStatus, number> = {
  running: 0,
  failed: 1,
  crashed: 2,
  interrupted: 3,
  finished: 4
};

/** True when at least one run is still going (the list then refreshes itself quickly). */
export function anyRunning(runs: { status: string }[]): boolean {
  return runs.some(run => run.status === 'running');
}

export type SortKey = 'name' | 'status' | 'start_time' | 'duration' | `metrics.${string}`;

function sortValue(run: IRunSummary, key: SortKey): string | number | null {
  if (key.startsWith('metrics.')) {
    const value = run.metrics[key.slice('metrics.'.length)];
    return value === undefined ? null : value;
  }
  if (key === 'status') {
    return STATUS_ORDER[run.status] ?? 9;
  }
  return run[key as 'name' | 'start_time' | 'duration'];
}

/** Runs sorted by `key` (missing values last, whatever the direction); stable. */
export function sortRuns(runs: IRunSummary[], key: SortKey, descending: boolean): IRunSummary[] {
  const sign = descending ? -1 : 1;
  return runs
    .map((run, index) => ({ run, index, value: sortValue(run, key) }))
    .sort((a, b) => {
      if (a.value === null || b.value === null) {
        return a.value === b.value ? a.index - b.index : a.value === null ? 1 : -1;
      }
      if (a.value < b.value) {
        return -sign;
      }
      if (a.value > b.value) {
        return sign;
      }
      return a.index - b.index;
    })
    .map(item => item.run);
}

/**
 * The metric columns worth showing for a page of runs: the keys most runs have,
 * then alphabetical, at most `limit`.
 */
export function keyMetrics(runs: IRunSummary[], limit = 3): string[] {
  const counts = new Map<string, number>();
  for (const run of runs) {
    for (const key of Object.keys(run.metrics)) {
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, limit)
    .map(([key]) => key);
}

/** Compare a server and a client version; returns the message to show, or null when equal. */
export function versionMismatch(
  server: { version: string; api: number },
  client: { version: string; api: number }
): string | null {
  if (server.version === client.version && server.api === client.api) {
    return null;
  }
  const fix =
    `reinstall one version of both: pip install --force-reinstall "mlops_nb==${server.version}" ` +
    'and restart JupyterLab (then reload this page)';
  if (server.api !== client.api) {
    return (
      `The MLOps sidebar (${client.version}, API ${client.api}) cannot talk to the mlops_nb ` +
      `server extension (${server.version}, API ${server.api}): ${fix}.`
    );
  }
  return (
    `The MLOps sidebar is version ${client.version} but the mlops_nb server extension is ` +
    `${server.version}: ${fix}.`
  );
}

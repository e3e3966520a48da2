/** Turning a dataset diff into rows to show (pure: unit-tested). */

import { formatCount, formatNumber, formatValue } from './format';
import { IDatasetDiff } from './tokens';

export interface ISummaryItem {
  label: string;
  value: string;
  tone: 'added' | 'removed' | 'changed' | 'same';
}

/** The headline counts: rows added, removed, changed (with a key), unchanged; or files. */
export function diffSummary(diff: IDatasetDiff): ISummaryItem[] {
  if (diff.rows_added === null) {
    return [
      { label: 'files added', value: `+${diff.files_added.length}`, tone: 'added' },
      { label: 'files removed', value: `−${diff.files_removed.length}`, tone: 'removed' },
      { label: 'files changed', value: `~${diff.files_changed.length}`, tone: 'changed' }
    ];
  }
  const items: ISummaryItem[] = [
    { label: 'rows added', value: `+${formatCount(diff.rows_added)}`, tone: 'added' },
    { label: 'rows removed', value: `−${formatCount(diff.rows_removed)}`, tone: 'removed' }
  ];
  if (diff.rows_changed !== null) {
    items.push({ label: 'rows changed', value: `~${formatCount(diff.rows_changed)}`, tone: 'changed' });
  }
  items.push({ label: 'rows unchanged', value: formatCount(diff.rows_unchanged), tone: 'same' });
  return items;
}

function byColumn<T extends { column: string }>(items: T[]): T[] {
  return [...items].sort((x, y) => (x.column < y.column ? -1 : x.column > y.column ? 1 : 0));
}

/** Schema changes as [column, change, dtype(s)] rows, sorted by column. */
export function schemaRows(diff: IDatasetDiff): string[][] {
  return byColumn(diff.schema_changes).map(change => {
    if (change.change === 'added') {
      return [change.column, 'added', change.b ?? ''];
    }
    if (change.change === 'removed') {
      return [change.column, 'removed', change.a ?? ''];
    }
    return [change.column, 'dtype', `${change.a ?? '?'} → ${change.b ?? '?'}`];
  });
}

/** Profile deltas as [column, statistic, a, b, change] rows (column order kept stable). */
export function profileRows(diff: IDatasetDiff): string[][] {
  return diff.profile_deltas.map(delta => [
    delta.column,
    delta.stat,
    formatValue(delta.a),
    formatValue(delta.b),
    delta.delta === null ? '' : `${delta.delta > 0 ? '+' : ''}${formatNumber(delta.delta)}`
  ]);
}

/** Changed columns (with a key) as [column, rows changed], most changed first. */
export function changedColumnRows(diff: IDatasetDiff): string[][] {
  return Object.entries(diff.changed_columns)
    .sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1))
    .map(([column, count]) => [column, formatCount(count)]);
}

/** The version number in a reference like `train@3` (null if there is none). */
export function versionOf(ref: string): number | null {
  const match = /@(\d+)$/.exec(ref);
  return match ? Number(match[1]) : null;
}

/** Default pair to compare: the previous version against the newest. */
export function defaultPair(versions: number[]): [number, number] | null {
  const sorted = [...versions].sort((x, y) => x - y);
  if (sorted.length < 2) {
    return null;
  }
  return [sorted[sorted.length - 2], sorted[sorted.length - 1]];
}

import { describe, expect, it } from 'vitest';

import { changedColumnRows, defaultPair, diffSummary, profileRows, schemaRows, versionOf } from '../src/diff';
import { IDatasetDiff } from '../src/tokens';

const diff: IDatasetDiff = {
  name: 'train',
  a: 'train@1',
  b: 'train@2',
  key: ['id'],
  identical: false,
  rows_a: 98010,
  rows_b: 99207,
  schema_changes: [
    { column: 'score', change: 'dtype', a: 'int64', b: 'float64' },
    { column: 'age', change: 'added', a: null, b: 'int64' },
    { column: 'city', change: 'removed', a: 'object', b: null }
  ],
  rows_added: 1200,
  rows_removed: 3,
  rows_unchanged: 98000,
  rows_changed: 7,
  changed_columns: { score: 7, plan: 2 },
  compared_on: ['id', 'score'],
  profile_deltas: [
    { column: 'score', stat: 'mean', a: 0.5, b: 0.55, delta: 0.05 },
    { column: 'score', stat: 'nulls', a: 2, b: 0, delta: -2 }
  ],
  new_values: {},
  files_added: [],
  files_removed: [],
  files_changed: []
};

describe('dataset diff view model', () => {
  it('summarises counts with signs and separators', () => {
    expect(diffSummary(diff)).toEqual([
      { label: 'rows added', value: '+1,200', tone: 'added' },
      { label: 'rows removed', value: '−3', tone: 'removed' },
      { label: 'rows changed', value: '~7', tone: 'changed' },
      { label: 'rows unchanged', value: '98,000', tone: 'same' }
    ]);
  });
  it('omits changed rows when the diff had no key', () => {
    expect(diffSummary({ ...diff, key: null, rows_changed: null }).map(i => i.label)).not.toContain('rows changed');
  });
  it('counts files for file and folder versions', () => {
    const files = { ...diff, rows_added: null, rows_removed: null, rows_unchanged: null, rows_changed: null, files_added: ['a.csv'], files_changed: ['b.csv', 'c.csv'] };
    expect(diffSummary(files).map(i => i.value)).toEqual(['+1', '−0', '~2']);
  });
  it('lists schema changes by column', () => {
    expect(schemaRows(diff)).toEqual([
      ['age', 'added', 'int64'],
      ['city', 'removed', 'object'],
      ['score', 'dtype', 'int64 → float64']
    ]);
  });
  it('lists profile deltas with signed changes', () => {
    expect(profileRows(diff)).toEqual([
      ['score', 'mean', '0.5', '0.55', '+0.05'],
      ['score', 'nulls', '2', '0', '-2']
    ]);
  });
  it('ranks changed columns by rows changed', () => {
    expect(changedColumnRows(diff)).toEqual([
      ['score', '7'],
      ['plan', '2']
    ]);
  });
  it('reads version numbers from references', () => {
    expect(versionOf('train@12')).toBe(12);
    expect(versionOf('DataFrame')).toBeNull();
  });
  it('compares the previous version with the newest by default', () => {
    expect(defaultPair([3, 1, 2])).toEqual([2, 3]);
    expect(defaultPair([1])).toBeNull();
  });
});

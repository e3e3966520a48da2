/** The Data tab: datasets, their versions, schema and profile, and the diff of two versions. */

import { View } from './context';
import { Child, fill, h, note, section, table } from './dom';
import { changedColumnRows, defaultPair, diffSummary, profileRows, schemaRows, versionOf } from './diff';
import { formatBytes, formatCount, formatNumber, formatTime, formatTimestamp, formatValue } from './format';
import { requestAPI } from './request';
import { IColumnProfile, IDatasetDetail, IDatasetDiff, IDatasets, IDatasetVersion } from './tokens';

const PROFILE_STATS = ['nulls', 'distinct', 'min', 'max', 'mean', 'std'] as const;

export class DataView extends View {
  private selected: string | null = null;
  private version: number | null = null;
  private detail: IDatasetDetail | null = null;
  private diff: IDatasetDiff | null = null;
  private diffError: string | null = null;
  private openSections = new Map<string, boolean>();

  constructor(context: ConstructorParameters<typeof View>[0]) {
    super(context);
    this.addClass('mlops-DataView');
  }

  showDataset(name: string | null): void {
    this.selected = name;
    this.version = null;
    this.detail = null;
    this.diff = null;
    this.diffError = null;
    void this.refresh();
  }

  async refresh(): Promise<void> {
    try {
      if (this.selected) {
        const detail = await this.latest(requestAPI<IDatasetDetail>(this.context.settings, ['datasets', this.selected]));
        if (detail) {
          this.detail = detail;
          this.renderDetail(detail);
        }
      } else {
        const list = await this.latest(requestAPI<IDatasets>(this.context.settings, ['datasets']));
        if (list) {
          this.renderList(list);
        }
      }
    } catch (error) {
      fill(this.node, note((error as Error).message, 'error'));
    }
  }

  private renderList(list: IDatasets): void {
    if (!list.datasets.length) {
      fill(this.node, note('No datasets yet. Snapshot one with mlops.snapshot(df, "name").'));
      return;
    }
    const now = Date.now() / 1000;
    fill(
      this.node,
      h('div', { class: 'mlops-summary' }, `${list.datasets.length} dataset${list.datasets.length === 1 ? '' : 's'}`),
      table(
        'mlops-datasets',
        ['dataset', 'latest', 'rows × cols'],
        list.datasets.map(ds => [
          h('div', {}, ds.name, h('div', { class: 'mlops-sub' }, formatTime(ds.created_at, now))),
          `v${ds.latest_version}${ds.versions > 1 ? ` (${ds.versions})` : ''}`,
          `${formatCount(ds.rows)} × ${formatCount(ds.columns)}`
        ]),
        i => ({
          class: 'mlops-dataset-row',
          'data-dataset': list.datasets[i].name,
          tabindex: 0,
          onclick: () => this.showDataset(list.datasets[i].name)
        })
      )
    );
  }

  private renderDetail(detail: IDatasetDetail): void {
    const versions = [...detail.versions].sort((a, b) => b.version - a.version);
    if (!versions.length) {
      fill(this.node, note(`Dataset ${detail.name} has no versions.`));
      return;
    }
    const current = versions.find(v => v.version === this.version) ?? versions[0];
    const now = Date.now() / 1000;
    fill(
      this.node,
      h(
        'div',
        { class: 'mlops-DatasetDetail', 'data-dataset': detail.name },
        h('button', { class: 'jp-Button jp-mod-minimal mlops-button mlops-back', onclick: () => this.showDataset(null) }, '‹ All datasets'),
        h('h3', {}, detail.name),
        section(
          `Versions (${versions.length})`,
          this.openSections,
          table(
            'mlops-dataset-versions',
            ['version', 'rows × cols', 'size', 'created'],
            versions.map(v => [
              `v${v.version}`,
              `${formatCount(v.rows)} × ${formatCount(v.columns)}`,
              formatBytes(v.size),
              h('span', { title: `${formatTimestamp(v.created_at)} by ${v.created_by}${v.run_id ? ` in run ${v.run_id.slice(0, 8)}` : ''}\nsha256 ${v.digest}` }, formatTime(v.created_at, now))
            ]),
            i => ({
              class: `mlops-dataset-version${versions[i].version === current.version ? ' mlops-mod-selected' : ''}`,
              'data-version': versions[i].version,
              onclick: () => {
                this.version = versions[i].version;
                this.renderDetail(detail);
              }
            })
          )
        ),
        section(`Schema of v${current.version}`, this.openSections, schemaTable(current)),
        section(`Profile of v${current.version}`, this.openSections, profileTable(current.profile)),
        section('Compare versions', this.openSections, this.diffControls(versions))
      )
    );
  }

  private diffControls(versions: IDatasetVersion[]): Child {
    const numbers = versions.map(v => v.version);
    const shown = this.diff ? [versionOf(this.diff.a), versionOf(this.diff.b)] : null;
    const pair = shown && shown[0] !== null && shown[1] !== null ? (shown as number[]) : defaultPair(numbers);
    if (!pair) {
      return note('Only one version: nothing to compare yet.');
    }
    const select = (value: number, cls: string) =>
      h('select', { class: `jp-mod-styled ${cls}` }, ...numbers.map(n => h('option', { value: n, selected: n === value }, `v${n}`)));
    const a = select(pair[0], 'mlops-diff-a');
    const b = select(pair[1], 'mlops-diff-b');
    const key = h('input', { class: 'jp-mod-styled mlops-diff-key', placeholder: 'key column (optional)', value: this.diff?.key?.join(', ') ?? '', spellcheck: 'false' });
    const run = () => void this.compare(a.value, b.value, key.value.trim());
    return h(
      'div',
      { class: 'mlops-diff-panel' },
      h('div', { class: 'mlops-toolbar-row' }, a, h('span', {}, '→'), b, key,
        h('button', { class: 'jp-Button jp-mod-styled jp-mod-accept mlops-diff-run', onclick: run }, 'Compare')),
      this.diffError ? note(this.diffError, 'error') : null,
      this.diff ? diffView(this.diff) : null
    );
  }

  private async compare(a: string, b: string, key: string): Promise<void> {
    if (!this.detail) {
      return;
    }
    try {
      this.diff = await requestAPI<IDatasetDiff>(this.context.settings, ['datasets', this.detail.name, 'diff'], { a, b, key });
      this.diffError = null;
    } catch (error) {
      this.diff = null;
      this.diffError = (error as Error).message;
    }
    this.renderDetail(this.detail);
  }
}

function schemaTable(version: IDatasetVersion): Child {
  if (!version.schema.length) {
    return note(version.kind === 'dataframe' ? 'No schema recorded.' : `A ${version.kind} snapshot has no column schema.`);
  }
  return table('mlops-schema', ['column', 'dtype'], version.schema.map(col => [col.name, col.dtype]));
}

function profileTable(profile: IColumnProfile[]): Child {
  if (!profile.length) {
    return note('No profile recorded.');
  }
  return table(
    'mlops-profile',
    ['column', ...PROFILE_STATS],
    profile.map(col => [
      col.column,
      ...PROFILE_STATS.map(stat => {
        const value = col[stat];
        return typeof value === 'number' ? formatNumber(value) : formatValue(value);
      })
    ]),
    i => ({ title: topValues(profile[i]) })
  );
}

function topValues(col: IColumnProfile): string {
  const top = col.top ? Object.entries(col.top).map(([value, count]) => `${value}: ${count}`) : [];
  return top.length ? `most frequent: ${top.slice(0, 8).join(', ')}` : `${col.kind ?? ''} ${col.dtype ?? ''}`.trim();
}

function diffView(diff: IDatasetDiff): HTMLElement {
  const schema = schemaRows(diff);
  const profile = profileRows(diff);
  const changed = changedColumnRows(diff);
  const files = [
    ...diff.files_added.map(f => [f, 'added']),
    ...diff.files_removed.map(f => [f, 'removed']),
    ...diff.files_changed.map(f => [f, 'changed'])
  ];
  return h(
    'div',
    { class: 'mlops-diff', 'data-a': diff.a, 'data-b': diff.b },
    h('div', { class: 'mlops-diff-title' }, `${diff.a} → ${diff.b}${diff.key ? ` by ${diff.key.join(', ')}` : ''}`, diff.identical ? ': identical' : ''),
    h(
      'div',
      { class: 'mlops-diff-summary' },
      ...diffSummary(diff).map(item => h('div', { class: `mlops-diff-item mlops-diff-${item.tone}` }, h('strong', {}, item.value), ` ${item.label}`))
    ),
    schema.length ? table('mlops-diff-schema', ['column', 'change', 'dtype'], schema) : note('Schema unchanged.'),
    changed.length ? table('mlops-diff-columns', ['changed column', 'rows'], changed) : null,
    files.length ? table('mlops-diff-files', ['file', 'change'], files) : null,
    Object.keys(diff.new_values).length
      ? h('div', { class: 'mlops-sub' }, 'new values: ', Object.entries(diff.new_values).map(([c, v]) => `${c}: ${v.join(', ')}`).join('; '))
      : null,
    profile.length ? table('mlops-diff-profile', ['column', 'stat', diff.a, diff.b, 'Δ'], profile) : null
  );
}

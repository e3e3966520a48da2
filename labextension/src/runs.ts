/** The Runs tab: a live, paginated, filterable list and a run's details. */

import { ServerConnection } from '@jupyterlab/services';
import { refreshIcon } from '@jupyterlab/ui-components';

import { metricChart } from './charts';
import { IViewContext, View } from './context';
import { confirmAndDelete, deletedBanner, restore } from './deletion';
import { Child, fill, h, note, section, table } from './dom';
import {
  anyRunning,
  formatBytes,
  formatDuration,
  formatNumber,
  formatTime,
  formatTimestamp,
  formatValue,
  keyMetrics,
  pageLabel,
  SortKey,
  sortRuns
} from './format';
import { apiUrl, requestAPI } from './request';
import { ICell, IExperiments, IRunDetail, IRunsPage, IRunSummary, IVersionRef } from './tokens';

const PAGE = 50;
/** Refresh every 2 s while a shown run is going, else every 15 s (new runs appear). */
const LIVE_MS = 2000;
const IDLE_MS = 15000;
const STATUSES = ['running', 'finished', 'failed', 'crashed', 'interrupted'];
/** The status filter's last choice lists the deleted runs (any status) instead. */
const DELETED = 'deleted';

export function statusBadge(status: string): HTMLElement {
  return h('span', { class: `mlops-status mlops-status-${status}`, title: status }, status);
}

/** A compact status dot for list rows (the status is its tooltip and accessible name). */
export function statusDot(status: string): HTMLElement {
  return h('span', {
    class: `mlops-status mlops-status-dot mlops-status-${status}`,
    title: status,
    role: 'img',
    'aria-label': status,
    'data-status': status
  });
}

export function iconButton(label: string, onClick: () => void, className = ''): HTMLButtonElement {
  return h('button', { class: `jp-Button jp-mod-minimal mlops-button ${className}`, title: label, onclick: onClick }, label);
}

function safeFileName(text: string): string {
  return text.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 80) || 'run';
}

export class RunsView extends View {
  private page: IRunsPage | null = null;
  private offset = 0;
  private filter = '';
  private experiment = '';
  private status = '';
  private sortKey: SortKey = 'start_time';
  private descending = true;
  private selected: string | null = null;
  private detailData: IRunDetail | null = null;
  private timer: number | null = null;
  private generation = 0;
  private renderedKey: string | null = null;
  private openSections = new Map<string, boolean>();
  private actionError: string | null = null;
  private toolbar: HTMLElement;
  private body: HTMLElement;
  private filterInput: HTMLInputElement;
  private experimentSelect: HTMLSelectElement;
  private statusSelect: HTMLSelectElement;
  private liveBadge: HTMLElement;

  constructor(context: IViewContext) {
    super(context);
    this.addClass('mlops-RunsView');
    this.filterInput = h('input', {
      class: 'jp-mod-styled mlops-filter',
      type: 'search',
      placeholder: "filter, e.g. metrics.auc > 0.8 and params.model == 'rf'",
      title: 'Run filter: metrics.X, params.X, tags.X, status, name… with and/or/not',
      spellcheck: 'false'
    });
    this.filterInput.addEventListener('keydown', event => {
      if (event.key === 'Enter') {
        this.filter = this.filterInput.value.trim();
        this.offset = 0;
        void this.refresh();
      }
    });
    this.filterInput.addEventListener('search', () => {
      if (!this.filterInput.value && this.filter) {
        this.filter = '';
        void this.refresh();
      }
    });
    this.experimentSelect = h('select', { class: 'jp-mod-styled mlops-experiment', title: 'Experiment' });
    this.experimentSelect.addEventListener('change', () => {
      this.experiment = this.experimentSelect.value;
      this.offset = 0;
      void this.refresh();
    });
    this.statusSelect = h(
      'select',
      { class: 'jp-mod-styled mlops-status-filter', title: 'Status' },
      h('option', { value: '' }, 'any status'),
      ...STATUSES.map(status => h('option', { value: status }, status)),
      h('option', { value: DELETED }, 'deleted runs')
    );
    this.statusSelect.addEventListener('change', () => {
      this.status = this.statusSelect.value;
      this.offset = 0;
      void this.refresh();
    });
    const refresh = h('button', {
      class: 'jp-Button jp-mod-minimal mlops-refresh',
      title: 'Refresh',
      'aria-label': 'Refresh',
      onclick: () => void this.refresh()
    });
    refresh.appendChild(refreshIcon.element({ tag: 'span' }));
    this.liveBadge = h('span', { class: 'mlops-live', title: 'Refreshing every 2 s while runs are going' }, 'live');
    this.toolbar = h(
      'div',
      { class: 'mlops-toolbar' },
      this.filterInput,
      h('div', { class: 'mlops-toolbar-row' }, this.experimentSelect, this.statusSelect, this.liveBadge, refresh)
    );
    this.body = h('div', { class: 'mlops-body' });
    this.node.append(this.toolbar, this.body);
  }

  /** Show one run's details (also used by the "MLOps: Open runs" command with an id). */
  showRun(runId: string | null): void {
    this.selected = runId;
    this.detailData = null;
    this.actionError = null;
    this.toolbar.hidden = runId !== null;
    void this.refresh();
  }

  /**
   * Reload what is shown. A newer call supersedes an older one still in flight (its reply is
   * dropped), so a filter change is never lost to a poll that was already running.
   */
  async refresh(): Promise<void> {
    const generation = ++this.generation;
    this.clearTimer();
    const shown = this.selected ?? '';
    const scroll = shown === this.renderedKey ? this.node.scrollTop : 0;
    try {
      if (this.selected) {
        const detail = await requestAPI<IRunDetail>(this.context.settings, ['runs', this.selected]);
        if (generation !== this.generation) {
          return;
        }
        this.detailData = detail;
        this.renderDetail(detail);
      } else {
        const page = await this.loadList();
        if (generation !== this.generation) {
          return;
        }
        this.page = page.page;
        this.renderExperiments(page.experiments);
        this.renderList(page.page);
      }
      this.renderedKey = shown;
      this.node.scrollTop = scroll;
    } catch (error) {
      if (generation === this.generation) {
        fill(this.body, note(String((error as Error).message ?? error), 'error'));
      }
    } finally {
      if (generation === this.generation) {
        this.schedule();
      }
    }
  }

  protected onBeforeHide(): void {
    this.clearTimer();
  }

  dispose(): void {
    this.clearTimer();
    super.dispose();
  }

  private clearTimer(): void {
    if (this.timer !== null) {
      window.clearTimeout(this.timer);
      this.timer = null;
    }
  }

  private isLive(): boolean {
    if (this.selected) {
      return this.detailData?.run.status === 'running';
    }
    return !!this.page && anyRunning(this.page.runs);
  }

  private schedule(): void {
    if (this.isDisposed || !this.isVisible) {
      return;
    }
    const live = this.isLive();
    this.liveBadge.classList.toggle('mlops-mod-on', live);
    this.timer = window.setTimeout(() => void this.refresh(), live ? LIVE_MS : IDLE_MS);
  }

  // --- the list -------------------------------------------------------------------------

  private async loadList(): Promise<{ page: IRunsPage; experiments: string[] }> {
    const settings = this.context.settings;
    const [page, experiments] = await Promise.all([
      requestAPI<IRunsPage>(settings, ['runs'], {
        limit: PAGE,
        offset: this.offset,
        filter: this.filter,
        experiment: this.experiment,
        ...(this.status === DELETED ? { deleted: 'true' } : { status: this.status })
      }),
      requestAPI<IExperiments>(settings, ['experiments'])
    ]);
    return { page, experiments: experiments.experiments };
  }

  private renderExperiments(names: string[]): void {
    const current = this.experiment;
    fill(
      this.experimentSelect,
      h('option', { value: '' }, 'all experiments'),
      ...names.map(name => h('option', { value: name, selected: name === current }, name))
    );
    this.experimentSelect.value = current;
  }

  private renderList(page: IRunsPage): void {
    if (page.total === 0) {
      const empty =
        this.filter || this.experiment || this.status
          ? 'No runs match.'
          : 'No runs yet. In a notebook: %load_ext mlops_nb, then %mlops track.';
      fill(this.body, note(empty));
      return;
    }
    const metrics = keyMetrics(page.runs);
    const runs = sortRuns(page.runs, this.sortKey, this.descending);
    const header = (label: string, key: SortKey) => {
      const active = this.sortKey === key;
      return h(
        'th',
        {
          class: `mlops-sortable${active ? ' mlops-mod-sorted' : ''}`,
          title: `Sort this page by ${label}`,
          onclick: () => {
            this.descending = active ? !this.descending : key !== 'name';
            this.sortKey = key;
            this.renderList(page);
          }
        },
        label,
        active ? (this.descending ? ' ▾' : ' ▴') : ''
      );
    };
    const now = Date.now() / 1000;
    const rows = runs.map(run => this.runRow(run, metrics, now));
    const grid = h(
      'table',
      { class: 'mlops-table mlops-runs' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          header('', 'status'),
          header('run', 'name'),
          ...metrics.map(key => header(key, `metrics.${key}`)),
          header('started', 'start_time')
        )
      ),
      h('tbody', {}, ...rows)
    );
    const pager = h(
      'div',
      { class: 'mlops-pager' },
      h('button', {
        class: 'jp-Button jp-mod-minimal mlops-prev',
        disabled: page.offset === 0,
        onclick: () => {
          this.offset = Math.max(0, this.offset - PAGE);
          void this.refresh();
        }
      }, '‹ newer'),
      h('span', { class: 'mlops-page-label' }, pageLabel(page.offset, page.runs.length, page.total)),
      h('button', {
        class: 'jp-Button jp-mod-minimal mlops-next',
        disabled: page.offset + page.runs.length >= page.total,
        onclick: () => {
          this.offset += PAGE;
          void this.refresh();
        }
      }, 'older ›')
    );
    fill(this.body, h('div', { class: 'mlops-summary' }, `${page.total === 1 ? '1 run' : `${page.total.toLocaleString('en')} runs`}`), grid, pager);
  }

  private runRow(run: IRunSummary, metrics: string[], now: number): HTMLTableRowElement {
    return h(
      'tr',
      {
        class: 'mlops-run-row',
        'data-run-id': run.run_id,
        tabindex: 0,
        title: `${run.name} · ${run.experiment} · ${run.run_id}`,
        onclick: () => this.showRun(run.run_id),
        onkeydown: (event: Event) => {
          if ((event as KeyboardEvent).key === 'Enter') {
            this.showRun(run.run_id);
          }
        }
      },
      h('td', {}, statusDot(run.status)),
      h(
        'td',
        { class: 'mlops-run-name' },
        h('div', {}, run.name),
        h('div', { class: 'mlops-sub' }, run.experiment, run.kind !== 'run' ? ` · ${run.kind}` : '')
      ),
      ...metrics.map(key => h('td', { class: 'mlops-num' }, formatNumber(run.metrics[key] ?? null))),
      h(
        'td',
        { class: 'mlops-sub', title: formatTimestamp(run.start_time) },
        formatTime(run.start_time, now),
        h('div', {}, run.status === 'running' ? formatDuration(now - (run.start_time ?? now)) : formatDuration(run.duration))
      )
    );
  }

  // --- one run --------------------------------------------------------------------------

  private renderDetail(detail: IRunDetail): void {
    const run = detail.run;
    const open = this.openSections;
    const now = Date.now() / 1000;
    const back = iconButton('‹ All runs', () => this.showRun(null), 'mlops-back');
    const actions: Child[] = [];
    if (detail.notebook_artifact) {
      actions.push(
        h('button', {
          class: 'jp-Button jp-mod-styled jp-mod-accept mlops-open-notebook',
          onclick: () => void this.openNotebook(detail)
        }, 'Open executed notebook')
      );
    }
    const deleted = run.deleted_at !== null;
    if (!deleted && run.status !== 'running') {
      actions.push(
        h('button', {
          class: 'jp-Button jp-mod-styled jp-mod-warn mlops-delete-run',
          onclick: () => void this.act(() => confirmAndDelete(this.context.settings, detail))
        }, 'Delete run')
      );
    }
    const repro =
      run.reproducible === null
        ? null
        : h(
            'span',
            { class: `mlops-badge ${run.reproducible ? 'mlops-badge-ok' : 'mlops-badge-bad'}` },
            run.reproducible ? 'reproducible' : 'not reproducible'
          );
    const header = h(
      'div',
      { class: 'mlops-detail-header' },
      h('div', { class: 'mlops-detail-title' }, statusBadge(run.status), h('h3', {}, run.name), repro),
      h(
        'div',
        { class: 'mlops-sub' },
        `${run.experiment} · ${run.user}@${run.host} · started ${formatTime(run.start_time, now)} · `,
        run.status === 'running' ? `running for ${formatDuration(now - (run.start_time ?? now))}` : formatDuration(run.duration)
      ),
      h('div', { class: 'mlops-sub mlops-mono' }, run.run_id, run.git_commit ? ` · git ${run.git_commit.slice(0, 10)}${run.git_dirty ? ' (dirty)' : ''}` : ''),
      run.description ? h('p', {}, run.description) : null,
      deleted ? deletedBanner(run.deleted_at as number, () => void this.act(() => restore(this.context.settings, run.run_id))) : null,
      this.actionError ? note(this.actionError, 'error') : null,
      actions.length ? h('div', { class: 'mlops-actions' }, ...actions) : null
    );
    const metricKeys = Object.keys(detail.metric_history).sort();
    fill(
      this.body,
      h('div', { class: 'mlops-RunDetail', 'data-run-id': run.run_id },
        back,
        header,
        section(
          `Metrics (${metricKeys.length})`,
          open,
          metricKeys.length
            ? h('div', { class: 'mlops-charts' }, ...metricKeys.map(key => metricChart(key, detail.metric_history[key], detail.metrics[key] ?? null)))
            : note('No metrics logged.')
        ),
        section(
          `Params (${Object.keys(detail.params).length})`,
          open,
          Object.keys(detail.params).length
            ? table('mlops-params', ['param', 'value'], Object.entries(detail.params).map(([k, v]) => [k, formatValue(v)]))
            : note('No params logged.')
        ),
        section(`Artifacts (${detail.artifacts.length})`, open, this.artifactList(detail)),
        section(`Cell history (${detail.cells.length})`, open, cellTable(detail.cells)),
        section('Reproducibility', open, reproducibility(detail)),
        section('Lineage', open, lineage(detail)),
        Object.keys(detail.tags).length
          ? section('Tags', open, table('mlops-tags', ['tag', 'value'], Object.entries(detail.tags).map(([k, v]) => [k, v])))
          : null
      )
    );
  }

  private artifactList(detail: IRunDetail): Child {
    if (!detail.artifacts.length) {
      return note('No artifacts.');
    }
    const settings = this.context.settings;
    return table(
      'mlops-artifacts',
      ['artifact', 'size'],
      detail.artifacts.map(artifact => [
        h(
          'a',
          {
            class: 'mlops-artifact-link',
            href: apiUrl(settings, ['runs', detail.run.run_id, 'artifacts', ...artifact.path.split('/')], { download: 1 }),
            download: artifact.path.split('/').pop() ?? artifact.path,
            title: `${artifact.media_type ?? 'file'} · sha256 ${artifact.digest}`
          },
          artifact.path
        ),
        formatBytes(artifact.size)
      ])
    );
  }

  /** Delete or restore the shown run, then show it again (or why the server refused). */
  private async act(action: () => Promise<unknown>): Promise<void> {
    try {
      await action();
      this.actionError = null;
    } catch (error) {
      this.actionError = (error as Error).message;
    }
    await this.refresh();
  }

  /** Copy the run's notebook artifact into `mlops-notebooks/` and open it in Lab. */
  async openNotebook(detail: IRunDetail): Promise<string> {
    const path = detail.notebook_artifact as string;
    const { app, settings } = this.context;
    const url = apiUrl(settings, ['runs', detail.run.run_id, 'artifacts', ...path.split('/')]);
    const response = await ServerConnection.makeRequest(url, {}, settings);
    if (!response.ok) {
      throw new Error(`cannot fetch ${path}: ${response.status}`);
    }
    const content = await response.json();
    const contents = app.serviceManager.contents;
    const folder = 'mlops-notebooks';
    try {
      await contents.get(folder, { content: false });
    } catch {
      await contents.save(folder, { type: 'directory' });
    }
    const target = `${folder}/${safeFileName(detail.run.name)}-${detail.run.run_id.slice(0, 8)}.ipynb`;
    await contents.save(target, { type: 'notebook', format: 'json', content });
    await app.commands.execute('docmanager:open', { path: target });
    return target;
  }
}

function cellTable(cells: ICell[]): Child {
  if (!cells.length) {
    return note('No cell history (cells are recorded while %mlops track is on).');
  }
  return table(
    'mlops-cells',
    ['#', 'exec', 'result', 'time', 'source'],
    cells.map((cell, index) => {
      const source = typeof cell.source === 'string' ? cell.source : '';
      const firstLine = source.split('\n').find(line => line.trim()) ?? '';
      const duration =
        cell.duration ??
        (typeof cell.ended_at === 'number' && typeof cell.started_at === 'number' ? cell.ended_at - cell.started_at : null);
      const ok = cell.ok === false ? `error${cell.error_type ? `: ${cell.error_type}` : ''}` : cell.ok ? 'ok' : '…';
      return [
        String(cell.seq ?? index + 1),
        cell.execution_count === null || cell.execution_count === undefined ? ' ' : `[${cell.execution_count}]`,
        h('span', { class: cell.ok === false ? 'mlops-bad' : 'mlops-good' }, ok),
        formatDuration(duration as number | null),
        h('code', { class: 'mlops-source', title: source }, firstLine)
      ];
    })
  );
}

function reproducibility(detail: IRunDetail): Child {
  const run = detail.run;
  if (run.reproducible === null && !detail.reproducibility_notes.length) {
    return note('Not assessed for this run.');
  }
  return h(
    'div',
    { class: 'mlops-repro' },
    h('div', {}, run.reproducible ? 'Cells ran top to bottom, each once.' : 'This run may not reproduce:'),
    detail.reproducibility_notes.length
      ? h('ul', { class: 'mlops-repro-notes' }, ...detail.reproducibility_notes.map(text => h('li', {}, text)))
      : null
  );
}

function refList(label: string, refs: IVersionRef[]): Child {
  if (!refs.length) {
    return null;
  }
  return h(
    'div',
    { class: 'mlops-lineage-group' },
    h('div', { class: 'mlops-sub' }, label),
    h('ul', {}, ...refs.map(ref => h('li', { title: `sha256 ${ref.digest}` }, `${ref.name}@${ref.version}`)))
  );
}

function lineage(detail: IRunDetail): Child {
  const { datasets_read, datasets_produced, models } = detail.lineage;
  if (!datasets_read.length && !datasets_produced.length && !models.length && !detail.run.parent_id && !detail.children.length) {
    return note('No datasets or models linked to this run.');
  }
  return h(
    'div',
    { class: 'mlops-lineage' },
    refList('datasets read', datasets_read),
    refList('datasets produced', datasets_produced),
    refList('models registered', models),
    detail.run.parent_id ? h('div', { class: 'mlops-sub' }, `child of run ${detail.run.parent_id.slice(0, 8)}`) : null,
    detail.children.length ? h('div', { class: 'mlops-sub' }, `${detail.children.length} child run(s)`) : null
  );
}

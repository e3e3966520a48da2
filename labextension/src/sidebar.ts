/** The left-sidebar panel: a header (project, version warning), a tab strip, three views. */

import { Panel, Widget } from '@lumino/widgets';

import { IViewContext } from './context';
import { DataView } from './data';
import { fill, h } from './dom';
import { versionMismatch } from './format';
import { mlopsIcon } from './icon';
import { ModelsView } from './models';
import { requestAPI } from './request';
import { RunsView } from './runs';
import { IVersionInfo } from './tokens';
import { API_VERSION, VERSION } from './version';

export const SIDEBAR_ID = 'mlops-sidebar';

export type TabName = 'runs' | 'models' | 'data';

const TABS: [TabName, string][] = [
  ['runs', 'Runs'],
  ['models', 'Models'],
  ['data', 'Data']
];

export class MlopsSidebar extends Panel {
  readonly runs: RunsView;
  readonly models: ModelsView;
  readonly data: DataView;
  private current: TabName = 'runs';
  private banner: HTMLElement;
  private projectLabel: HTMLElement;
  private tabButtons = new Map<TabName, HTMLButtonElement>();

  constructor(private context: IViewContext) {
    super();
    this.id = SIDEBAR_ID;
    this.addClass('mlops-Sidebar');
    this.title.icon = mlopsIcon;
    this.title.label = 'MLOps';
    this.title.caption = 'MLOps: runs, models and data of this project';
    // Inline, so the shell's split layout sees it before the stylesheet loads.
    this.node.style.minWidth = '320px';

    this.projectLabel = h('span', { class: 'mlops-project' });
    this.banner = h('div', { class: 'mlops-banner', hidden: true, role: 'alert' });
    const strip = h('div', { class: 'mlops-tabs', role: 'tablist' });
    for (const [name, label] of TABS) {
      const button = h('button', {
        class: 'mlops-tab',
        role: 'tab',
        'data-tab': name,
        onclick: () => this.select(name)
      }, label);
      this.tabButtons.set(name, button);
      strip.appendChild(button);
    }
    this.addWidget(
      new Widget({
        node: h('header', { class: 'mlops-header' }, h('h2', { class: 'mlops-title' }, 'MLOps', this.projectLabel), this.banner, strip)
      })
    );
    this.runs = new RunsView(context);
    this.models = new ModelsView(context);
    this.data = new DataView(context);
    for (const [name] of TABS) {
      const view = this[name];
      view.node.setAttribute('role', 'tabpanel');
      this.addWidget(view);
    }
    this.select('runs');
  }

  /** Show one tab (it loads its data when shown). */
  select(tab: TabName): void {
    this.current = tab;
    for (const [name] of TABS) {
      const active = name === tab;
      this.tabButtons.get(name)?.classList.toggle('mlops-mod-current', active);
      this.tabButtons.get(name)?.setAttribute('aria-selected', String(active));
      if (active) {
        this[name].show();
      } else {
        this[name].hide();
      }
    }
  }

  /** Reload the visible tab. */
  refresh(): Promise<void> {
    return this[this.current].refresh();
  }

  /** Ask the server its version; show what to reinstall when it differs from ours. */
  async handshake(): Promise<void> {
    try {
      const info = await requestAPI<IVersionInfo>(this.context.settings, ['version']);
      const problem = versionMismatch(info, { version: VERSION, api: API_VERSION });
      this.showBanner(problem);
      this.node.dataset.project = info.project;
      fill(this.projectLabel, info.project.split(/[\\/]/).filter(Boolean).pop() ?? info.project);
      this.projectLabel.title = info.project;
      this.title.caption = `MLOps: ${info.project}`;
      if (problem) {
        console.warn(problem);
      }
    } catch (error) {
      const status = (error as { status?: number }).status;
      this.showBanner(
        status === 404
          ? 'The mlops_nb server extension is not running: install mlops_nb (pip install mlops_nb) in the ' +
              'environment that runs JupyterLab, check `jupyter server extension list`, and restart JupyterLab.'
          : `Cannot reach the mlops_nb server extension: ${(error as Error).message}`
      );
    }
  }

  private showBanner(message: string | null): void {
    this.banner.hidden = message === null;
    fill(this.banner, message ?? '');
  }
}

import { ILabShell, ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';

import { MlopsSidebar, SIDEBAR_ID } from './sidebar';

export namespace CommandIDs {
  export const openRuns = 'mlops:open-runs';
  export const openModels = 'mlops:open-models';
  export const openData = 'mlops:open-data';
  export const refresh = 'mlops:refresh';
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'mlops-nb:sidebar',
  description: 'MLOps sidebar: runs, models and datasets of the project.',
  autoStart: true,
  requires: [ILabShell],
  optional: [ICommandPalette, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    labShell: ILabShell,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null
  ) => {
    const sidebar = new MlopsSidebar({ app, settings: app.serviceManager.serverSettings });
    labShell.add(sidebar, 'left', { rank: 900 });
    restorer?.add(sidebar, SIDEBAR_ID);
    void sidebar.handshake();

    const open = (tab: 'runs' | 'models' | 'data') => () => {
      labShell.activateById(SIDEBAR_ID);
      sidebar.select(tab);
    };
    app.commands.addCommand(CommandIDs.openRuns, {
      label: 'MLOps: Open runs',
      caption: 'Show the runs of this project in the MLOps sidebar',
      execute: args => {
        open('runs')();
        if (typeof args.runId === 'string') {
          sidebar.runs.showRun(args.runId);
        }
      }
    });
    app.commands.addCommand(CommandIDs.openModels, { label: 'MLOps: Open models', execute: open('models') });
    app.commands.addCommand(CommandIDs.openData, { label: 'MLOps: Open data', execute: open('data') });
    app.commands.addCommand(CommandIDs.refresh, {
      label: 'MLOps: Refresh',
      caption: 'Reload the visible MLOps tab',
      execute: () => sidebar.refresh()
    });
    if (palette) {
      for (const command of Object.values(CommandIDs)) {
        palette.addItem({ command, category: 'MLOps' });
      }
    }
    console.log('mlops-nb: sidebar activated');
  }
};

export default plugin;

import { JupyterFrontEnd } from '@jupyterlab/application';
import { ServerConnection } from '@jupyterlab/services';
import { Widget } from '@lumino/widgets';

/** What every view needs: the server connection and the app (commands, contents). */
export interface IViewContext {
  app: JupyterFrontEnd;
  settings: ServerConnection.ISettings;
}

/** A sidebar tab that can reload its data. */
export abstract class View extends Widget {
  constructor(readonly context: IViewContext) {
    super();
    this.addClass('mlops-View');
  }

  /** Reload from the server; errors are shown in the view, never thrown. */
  abstract refresh(): Promise<void>;

  protected onAfterShow(): void {
    void this.refresh();
  }
}

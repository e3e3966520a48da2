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

  private loads = 0;

  /** Reload from the server; errors are shown in the view, never thrown. */
  abstract refresh(): Promise<void>;

  /** The reply of `load`, or null when a newer load started meanwhile (its reply wins). */
  protected async latest<T>(load: Promise<T>): Promise<T | null> {
    const ticket = ++this.loads;
    const reply = await load;
    return ticket === this.loads ? reply : null;
  }

  protected onAfterShow(): void {
    void this.refresh();
  }
}

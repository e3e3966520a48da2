/** Deleting a run from its details (after a confirmation) and restoring it. */

import { Dialog, showDialog } from '@jupyterlab/apputils';
import { ServerConnection } from '@jupyterlab/services';

import { h } from './dom';
import { formatTime } from './format';
import { postAPI, requestAPI } from './request';
import { IRunDetail } from './tokens';

/** Ask, then delete the run and its child runs; resolves true once deleted. */
export async function confirmAndDelete(settings: ServerConnection.ISettings, detail: IRunDetail): Promise<boolean> {
  const children = detail.children.length;
  const result = await showDialog({
    title: `Delete run ${detail.run.name}?`,
    body:
      `It ${children ? `and its ${children} child run${children === 1 ? '' : 's'} ` : ''}will be hidden from the ` +
      'runs list and the pipeline cache. You can restore it until `mlops gc` purges it.',
    buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Delete' })]
  });
  if (!result.button.accept) {
    return false;
  }
  await requestAPI(settings, ['runs', detail.run.run_id], {}, { method: 'DELETE' });
  return true;
}

export function restore(settings: ServerConnection.ISettings, runId: string): Promise<unknown> {
  return postAPI(settings, ['runs', runId, 'restore'], {});
}

/** The notice a deleted run's details open with, with its Restore button. */
export function deletedBanner(deletedAt: number, onRestore: () => void): HTMLElement {
  return h(
    'div',
    { class: 'mlops-banner mlops-deleted', role: 'status' },
    `Deleted ${formatTime(deletedAt, Date.now() / 1000)}: hidden from the runs list until restored. `,
    h('button', { class: 'jp-Button jp-mod-styled mlops-restore-run', onclick: onRestore }, 'Restore')
  );
}

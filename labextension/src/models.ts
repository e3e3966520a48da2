/** The Models tab: registered models, their versions and aliases, promotion with gates. */

import { Dialog, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { View } from './context';
import { append, Child, fill, h, note, section, table } from './dom';
import { formatNumber, formatTime, formatTimestamp } from './format';
import { ApiError, postAPI, requestAPI } from './request';
import { iconButton } from './runs';
import {
  IGateCheck,
  IModelDetail,
  IModels,
  IModelVersion,
  IPromoteReply,
  JSONValue
} from './tokens';

const SUGGESTED_ALIASES = ['staging', 'production', 'champion', 'challenger'];

/** The outcome of the last promotion attempt, shown above the versions. */
interface IOutcome {
  ok: boolean;
  title: string;
  checks: IGateCheck[];
}

/** The body of the Promote dialog: alias, reason, and (on a rejection) a force override. */
class PromoteForm extends Widget {
  readonly alias: HTMLInputElement;
  readonly reason: HTMLTextAreaElement;

  constructor(model: IModelDetail, version: IModelVersion) {
    super();
    this.addClass('mlops-PromoteForm');
    const aliases = [...new Set([...Object.keys(model.aliases), ...SUGGESTED_ALIASES])];
    this.alias = h('input', {
      class: 'jp-mod-styled mlops-promote-alias',
      list: 'mlops-alias-options',
      placeholder: 'production',
      value: version.aliases.includes('staging') ? 'production' : 'staging',
      spellcheck: 'false'
    });
    this.reason = h('textarea', {
      class: 'jp-mod-styled mlops-promote-reason',
      rows: 3,
      placeholder: 'Why this version? (recorded in the audit trail)'
    });
    const holders = Object.entries(model.aliases)
      .map(([alias, v]) => `${alias} → v${v}`)
      .join(', ');
    append(
      this.node,
      h('p', {}, `Move an alias to ${model.name} v${version.version}. The project's promotion gates are checked on the server.`),
      holders ? h('p', { class: 'mlops-sub' }, `Current aliases: ${holders}`) : null,
      h('label', {}, 'Alias', this.alias),
      h('datalist', { id: 'mlops-alias-options' }, ...aliases.map(alias => h('option', { value: alias }))),
      h('label', {}, 'Reason', this.reason)
    );
  }

  getValue(): { alias: string; reason: string } {
    return { alias: this.alias.value.trim(), reason: this.reason.value.trim() };
  }
}

/** Render gate checks as a table (shared with the rejection view). */
export function checksTable(checks: IGateCheck[]): Child {
  if (!checks.length) {
    return note('No gates configured for this alias.');
  }
  return table(
    'mlops-checks',
    ['', 'rule', 'observed'],
    checks.map(check => [
      h('span', { class: check.ok ? 'mlops-good' : 'mlops-bad', 'aria-label': check.ok ? 'passed' : 'failed' }, check.ok ? '✓' : '✗'),
      h('span', { class: 'mlops-mono', title: check.required === check.rule ? '' : `required: ${check.required}` }, check.rule),
      check.observed
    ]),
    i => ({ class: checks[i].ok ? 'mlops-check-ok' : 'mlops-check-failed' })
  );
}

export class ModelsView extends View {
  private selected: string | null = null;
  private outcome: IOutcome | null = null;
  private openSections = new Map<string, boolean>();

  constructor(context: ConstructorParameters<typeof View>[0]) {
    super(context);
    this.addClass('mlops-ModelsView');
  }

  showModel(name: string | null): void {
    this.selected = name;
    this.outcome = null;
    void this.refresh();
  }

  async refresh(): Promise<void> {
    try {
      if (this.selected) {
        const detail = await this.latest(requestAPI<IModelDetail>(this.context.settings, ['models', this.selected]));
        if (detail) {
          this.renderDetail(detail);
        }
      } else {
        const list = await this.latest(requestAPI<IModels>(this.context.settings, ['models']));
        if (list) {
          this.renderList(list);
        }
      }
    } catch (error) {
      fill(this.node, note((error as Error).message, 'error'));
    }
  }

  private renderList(list: IModels): void {
    if (!list.models.length) {
      fill(this.node, note('No models yet. Register one with mlops.register_model(model, "name").'));
      return;
    }
    const now = Date.now() / 1000;
    fill(
      this.node,
      h('div', { class: 'mlops-summary' }, `${list.models.length} model${list.models.length === 1 ? '' : 's'}`),
      table(
        'mlops-models',
        ['model', 'versions', 'aliases'],
        list.models.map(model => [
          h('div', {}, model.name, h('div', { class: 'mlops-sub' }, `updated ${formatTime(model.updated_at, now)}`)),
          `v${model.latest_version}${model.versions > 1 ? ` (${model.versions})` : ''}`,
          aliasChips(model.aliases)
        ]),
        i => ({
          class: 'mlops-model-row',
          'data-model': list.models[i].name,
          tabindex: 0,
          onclick: () => this.showModel(list.models[i].name)
        })
      )
    );
  }

  private renderDetail(model: IModelDetail): void {
    const now = Date.now() / 1000;
    const metricKeys = [...new Set(([] as string[]).concat(...model.versions.map(v => Object.keys(v.metrics))))].sort().slice(0, 4);
    const versions = [...model.versions].sort((a, b) => b.version - a.version);
    fill(
      this.node,
      h(
        'div',
        { class: 'mlops-ModelDetail', 'data-model': model.name },
        iconButton('‹ All models', () => this.showModel(null), 'mlops-back'),
        h('div', { class: 'mlops-detail-title' }, h('h3', {}, model.name), aliasChips(model.aliases)),
        this.outcome ? outcomeView(this.outcome) : null,
        section(
          `Versions (${versions.length})`,
          this.openSections,
          table(
            'mlops-versions',
            ['version', 'aliases', ...metricKeys, ''],
            versions.map(version => [
              h('div', { title: `sha256 ${version.digest}\n${version.flavor} · by ${version.created_by} · ${formatTimestamp(version.created_at)}` },
                `v${version.version}`,
                h('div', { class: 'mlops-sub' }, `${version.flavor} · ${formatTime(version.created_at, now)}`)),
              h('div', { class: 'mlops-version-aliases' }, ...version.aliases.map(alias => h('span', { class: 'mlops-alias', 'data-alias': alias }, alias))),
              ...metricKeys.map(key => h('span', { class: 'mlops-num' }, formatNumber(version.metrics[key] ?? null))),
              h('div', { class: 'mlops-row-actions' },
                h('button', {
                  class: 'jp-Button jp-mod-styled mlops-promote',
                  'data-version': version.version,
                  onclick: () => void this.promote(model, version)
                }, 'Promote…'),
                h('button', {
                  class: 'jp-Button jp-mod-minimal mlops-approve',
                  'data-version': version.version,
                  title: 'Approve a promotion of this version (as a second person)',
                  onclick: () => void this.approve(model, version)
                }, 'Approve…'))
            ]),
            i => ({ class: 'mlops-version-row', 'data-version': versions[i].version })
          )
        ),
        section(`Audit trail (${model.audit.length})`, this.openSections, auditList(model))
      )
    );
  }

  /** Ask for alias + reason, call the server (gates run there), show checks or the rejection. */
  async promote(model: IModelDetail, version: IModelVersion): Promise<void> {
    const form = new PromoteForm(model, version);
    const result = await showDialog({
      title: `Promote ${model.name} v${version.version}`,
      body: form,
      focusNodeSelector: '.mlops-promote-reason',
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Promote' })]
    });
    if (!result.button.accept || !result.value) {
      return;
    }
    const { alias, reason } = result.value;
    if (!alias || !reason) {
      this.outcome = { ok: false, title: 'Give both an alias and a reason.', checks: [] };
      await this.refresh();
      return;
    }
    try {
      const reply = await postAPI<IPromoteReply>(this.context.settings, ['models', model.name, 'promote'], {
        version: version.version,
        to: alias,
        reason
      });
      this.outcome = { ok: true, title: reply.summary, checks: reply.checks };
    } catch (error) {
      const checks = error instanceof ApiError ? error.body?.checks ?? [] : [];
      const status = error instanceof ApiError && error.status === 409 ? 'Promotion rejected' : 'Promotion failed';
      this.outcome = { ok: false, title: `${status}: ${(error as Error).message}`, checks };
    }
    await this.refresh();
  }

  async approve(model: IModelDetail, version: IModelVersion): Promise<void> {
    const alias = h('input', { class: 'jp-mod-styled', value: 'production', spellcheck: 'false' });
    const comment = h('textarea', { class: 'jp-mod-styled', rows: 2, placeholder: 'Comment (recorded)' });
    const body = new Widget({
      node: h(
        'div',
        { class: 'mlops-PromoteForm' },
        h('p', {}, 'Your approval is recorded in the audit trail; a policy may require approvals from people other than the promoter.'),
        h('label', {}, 'Alias', alias),
        h('label', {}, 'Comment', comment)
      )
    });
    const result = await showDialog({
      title: `Approve ${model.name} v${version.version}`,
      body,
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Approve' })]
    });
    if (!result.button.accept) {
      return;
    }
    try {
      await postAPI(this.context.settings, ['models', model.name, 'approve'], {
        version: version.version,
        to: alias.value.trim(),
        comment: comment.value.trim() || null
      });
      this.outcome = { ok: true, title: `Approved v${version.version} for ${alias.value.trim()}.`, checks: [] };
    } catch (error) {
      this.outcome = { ok: false, title: `Approval failed: ${(error as Error).message}`, checks: [] };
    }
    await this.refresh();
  }
}

function aliasChips(aliases: Record<string, number>): HTMLElement {
  return h(
    'div',
    { class: 'mlops-aliases' },
    ...Object.entries(aliases)
      .sort()
      .map(([alias, version]) => h('span', { class: 'mlops-alias', 'data-alias': alias, title: `${alias} → v${version}` }, `${alias} v${version}`))
  );
}

function outcomeView(outcome: IOutcome): HTMLElement {
  return h(
    'div',
    { class: `mlops-gate-results ${outcome.ok ? 'mlops-mod-accepted' : 'mlops-mod-rejected'}`, role: 'status' },
    h('div', { class: 'mlops-gate-title' }, outcome.title),
    outcome.checks.length ? checksTable(outcome.checks) : null
  );
}

function auditList(model: IModelDetail): Child {
  if (!model.audit.length) {
    return note('No events.');
  }
  const events = [...model.audit].sort((a, b) => b.seq - a.seq).slice(0, 50);
  return h(
    'ol',
    { class: 'mlops-audit', reversed: true },
    ...events.map(event =>
      h(
        'li',
        { title: JSON.stringify(event.details, null, 1) },
        h('span', { class: 'mlops-audit-action' }, event.action),
        ` ${event.subject} · ${event.actor} · ${formatTimestamp(event.ts)}`,
        auditReason(event.details)
      )
    )
  );
}

function auditReason(details: JSONValue): Child {
  if (details && typeof details === 'object' && !Array.isArray(details) && typeof details.reason === 'string') {
    return h('div', { class: 'mlops-sub' }, `“${details.reason}”`);
  }
  return null;
}

/**
 * The wire contract of the mlops_nb REST API (`/mlops/api/`), mirroring the JSON shapes in
 * `mlops_nb/server/openapi.yaml`. Times are UNIX seconds; missing values are `null`.
 */

export type JSONScalar = string | number | boolean | null;
export type JSONValue = JSONScalar | JSONValue[] | { [key: string]: JSONValue };

/** Every error reply: `{error, status}`, plus `checks` for a rejected promotion. */
export interface IApiErrorBody {
  error: string;
  status: number;
  checks?: IGateCheck[];
}

/** GET version */
export interface IVersionInfo {
  version: string;
  api: number;
  project: string;
}

export type RunStatus = 'running' | 'finished' | 'failed' | 'crashed' | 'interrupted';

/** One row of GET runs */
export interface IRunSummary {
  run_id: string;
  name: string;
  experiment: string;
  status: RunStatus;
  kind: string;
  parent_id: string | null;
  user: string;
  start_time: number | null;
  end_time: number | null;
  duration: number | null;
  reproducible: boolean | null;
  params: Record<string, JSONValue>;
  metrics: Record<string, number | null>;
}

/** GET runs?limit=&offset=&filter=&experiment=&status= */
export interface IRunsPage {
  total: number;
  limit: number;
  offset: number;
  runs: IRunSummary[];
}

/** GET experiments */
export interface IExperiments {
  experiments: string[];
}

export interface IMetricPoint {
  step: number;
  value: number | null;
  timestamp: number;
}

export interface IMetricSeries {
  /** Points recorded; `points` holds at most `max_points` of them, evenly spread. */
  total: number;
  points: IMetricPoint[];
}

export interface IArtifact {
  path: string;
  size: number;
  digest: string;
  kind: string;
  media_type: string | null;
}

/** One executed cell of a tracked notebook session (fields as recorded by the core). */
export interface ICell {
  seq?: number;
  execution_count?: number | null;
  source?: string | null;
  started_at?: number | null;
  ended_at?: number | null;
  duration?: number | null;
  ok?: boolean | null;
  error_type?: string | null;
  [key: string]: JSONValue | undefined;
}

export interface IVersionRef {
  name: string;
  version: number;
  digest: string;
}

export interface ILineage {
  datasets_read: IVersionRef[];
  datasets_produced: IVersionRef[];
  models: IVersionRef[];
}

/** GET runs/<id> */
export interface IRunDetail {
  run: Omit<IRunSummary, 'params' | 'metrics'> & {
    host: string;
    notebook_path: string | null;
    git_commit: string | null;
    git_dirty: boolean | null;
    description: string | null;
    /** When the run was deleted (restorable until `mlops gc`), else null. */
    deleted_at: number | null;
  };
  params: Record<string, JSONValue>;
  tags: Record<string, string>;
  metrics: Record<string, number | null>;
  metric_history: Record<string, IMetricSeries>;
  artifacts: IArtifact[];
  notebook_artifact: string | null;
  cells: ICell[];
  reproducibility_notes: string[];
  children: string[];
  lineage: ILineage;
}

/** One check of a promotion policy (as the registry evaluated it). */
export interface IGateCheck {
  rule: string;
  observed: string;
  required: string;
  ok: boolean;
}

/** One version of a registered model. */
export interface IModelVersion {
  name: string;
  version: number;
  aliases: string[];
  flavor: string;
  digest: string;
  run_id: string | null;
  created_by: string;
  created_at: number;
  metrics: Record<string, number | null>;
}

/** One row of GET models */
export interface IModelSummary {
  name: string;
  latest_version: number;
  versions: number;
  aliases: Record<string, number>;
  updated_at: number | null;
}

export interface IModels {
  models: IModelSummary[];
}

export interface IAuditEvent {
  seq: number;
  ts: number;
  actor: string;
  action: string;
  subject: string;
  details: JSONValue;
}

/** GET models/<name> */
export interface IModelDetail {
  name: string;
  versions: IModelVersion[];
  aliases: Record<string, number>;
  audit: IAuditEvent[];
}

/** POST models/<name>/promote */
export interface IPromoteRequest {
  version: number | string;
  to: string;
  reason: string;
}

/** The reply of a promotion that went through (a rejection is a 409 error with `checks`). */
export interface IPromoteReply {
  name: string;
  version: number;
  alias: string;
  promoted: boolean;
  changed: boolean;
  forced: boolean;
  has_policy: boolean;
  previous: number | null;
  reason: string | null;
  actor: string;
  audit_seq: number | null;
  summary: string;
  checks: IGateCheck[];
}

/** POST models/<name>/approve */
export interface IApproveRequest {
  version: number | string;
  to: string;
  comment?: string;
}

export interface IApproval {
  name: string;
  version: number;
  alias: string;
  approver: string;
  comment: string | null;
  created_at: number;
  seq: number | null;
}

export interface IColumnSchema {
  name: string;
  dtype: string;
}

/** Profile statistics of one column (numbers: min/max/mean/std/quantiles; categories: top). */
export interface IColumnProfile {
  column: string;
  dtype?: string;
  kind?: string;
  count?: number | null;
  nulls?: number | null;
  distinct?: number | null;
  distinct_approx?: boolean;
  min?: JSONValue;
  max?: JSONValue;
  mean?: number | null;
  std?: number | null;
  quantiles?: Record<string, number | null>;
  top?: Record<string, number>;
}

/** One version of a dataset. */
export interface IDatasetVersion {
  name: string;
  version: number;
  digest: string;
  kind: string;
  rows: number | null;
  columns: number | null;
  size: number | null;
  created_at: number;
  created_by: string;
  run_id: string | null;
  description: string | null;
  schema: IColumnSchema[];
  profile: IColumnProfile[];
  /** Runs that read (`input`) or produced (`output`) this version. */
  runs: { run_id: string; direction: 'input' | 'output' }[];
}

/** One row of GET datasets */
export interface IDatasetSummary {
  name: string;
  latest_version: number;
  versions: number;
  kind: string;
  rows: number | null;
  columns: number | null;
  created_at: number | null;
}

export interface IDatasets {
  datasets: IDatasetSummary[];
}

/** GET datasets/<name> */
export interface IDatasetDetail {
  name: string;
  versions: IDatasetVersion[];
}

export interface ISchemaChange {
  column: string;
  change: 'added' | 'removed' | 'dtype';
  /** dtype in version a / b (null when the column is absent there). */
  a: string | null;
  b: string | null;
}

export interface IProfileDelta {
  column: string;
  stat: string;
  a: JSONValue;
  b: JSONValue;
  delta: number | null;
}

/** GET datasets/<name>/diff?a=&b=[&key=] */
export interface IDatasetDiff {
  name: string;
  /** References compared, e.g. `train@1`. */
  a: string;
  b: string;
  key: string[] | null;
  identical: boolean;
  rows_a: number | null;
  rows_b: number | null;
  schema_changes: ISchemaChange[];
  rows_added: number | null;
  rows_removed: number | null;
  rows_unchanged: number | null;
  /** Only with a key: rows whose key matched but values differ. */
  rows_changed: number | null;
  /** Column -> number of changed rows (with a key). */
  changed_columns: Record<string, number>;
  compared_on: string[];
  profile_deltas: IProfileDelta[];
  new_values: Record<string, string[]>;
  files_added: string[];
  files_removed: string[];
  files_changed: string[];
}

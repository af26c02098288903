import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parse } from 'yaml';

import { createApp } from '../../backend/src/app';
import { loadConfig } from '../../backend/src/config';
import { createLogger } from '../../backend/src/logger';

/** Repository root (this file is test/support/provisioning.ts). */
export const ROOT = new URL('../../', import.meta.url).pathname;

/** Absolute path of a repository-relative path. */
export const repoPath = (...parts: string[]): string => join(ROOT, ...parts);

/** Parses a YAML file of the repository; throws with the file name on a syntax error. */
export function readYaml<T = unknown>(path: string): T {
  const text = readFileSync(repoPath(path), 'utf8');
  try {
    return parse(text, { prettyErrors: true, strict: true, uniqueKeys: true }) as T;
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** Parses a JSON file of the repository. */
export function readJson<T = unknown>(path: string): T {
  return JSON.parse(readFileSync(repoPath(path), 'utf8')) as T;
}

/** Repository-relative paths of every file under `dir`, sorted. */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (abs: string) => {
    for (const name of readdirSync(abs)) {
      const p = join(abs, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(ROOT, p));
    }
  };
  walk(repoPath(dir));
  return out.sort();
}

// ---- provisioning file shapes (only the fields the tests read) ----

/** provisioning/prometheus/sentinel-rules.yml */
export interface PromRuleFile {
  groups: { name: string; interval?: string; rules: PromRule[] }[];
}
/** One Prometheus alerting or recording rule. */
export interface PromRule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** provisioning/prometheus/prometheus.yml */
export interface PromConfig {
  global?: Record<string, unknown>;
  rule_files?: string[];
  scrape_configs: { job_name: string; metrics_path?: string; scrape_interval?: string; static_configs?: { targets: string[] }[] }[];
  [key: string]: unknown;
}

/** One query or expression of a Grafana-managed rule. */
export interface GrafanaRuleQuery {
  refId: string;
  datasourceUid: string;
  relativeTimeRange?: { from: number; to: number };
  model: {
    refId?: string;
    expr?: string;
    type?: string;
    expression?: string;
    instant?: boolean;
    conditions?: { evaluator: { type: string; params: number[] } }[];
  };
}
/** One Grafana-managed alert rule (file provisioning format). */
export interface GrafanaRule {
  uid: string;
  title: string;
  condition: string;
  data: GrafanaRuleQuery[];
  for?: string;
  noDataState?: string;
  execErrState?: string;
  dashboardUid?: string;
  panelId?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
/** provisioning/grafana/alerting/rules.yaml */
export interface GrafanaRuleFile {
  apiVersion: number;
  groups: { orgId?: number; name: string; folder: string; interval: string; rules: GrafanaRule[] }[];
}

/** A datasource reference in a dashboard. */
export interface DsRef {
  type?: string;
  uid?: string;
}
/** A dashboard panel (rows included). */
export interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: DsRef;
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: ({ refId: string; datasource?: DsRef; expr?: string; queryType?: string; [k: string]: unknown })[];
  panels?: Panel[];
  repeat?: string;
}
/** A provisioned dashboard JSON. */
export interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  annotations: { list: { name: string; datasource?: DsRef; target?: { refId: string; queryType?: string; datasource?: DsRef } }[] };
  templating: { list: { name: string; type: string; datasource?: DsRef; definition?: string; query?: unknown; allValue?: string }[] };
}

/** Where the provisioning lives. */
export const PATHS = {
  promConfig: 'provisioning/prometheus/prometheus.yml',
  promRules: 'provisioning/prometheus/sentinel-rules.yml',
  grafanaDatasources: 'provisioning/grafana/datasources/llm-sentinel.yaml',
  grafanaDashboardProvider: 'provisioning/grafana/dashboards/llm-sentinel.yaml',
  grafanaDashboard: 'provisioning/grafana/dashboards/sentinel/llm-sentinel-overview.json',
  grafanaRules: 'provisioning/grafana/alerting/rules.yaml',
  grafanaContactPoints: 'provisioning/grafana/alerting/contact-points.yaml',
  grafanaPolicies: 'provisioning/grafana/alerting/notification-policies.yaml',
  compose: 'docker-compose.yml',
} as const;

/** Every panel of a dashboard, rows' nested panels included. */
export function allPanels(dash: Dashboard): Panel[] {
  return dash.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}

/** The provisioned Prometheus alerting rules by name. */
export function promAlertRules(): Map<string, PromRule> {
  const file = readYaml<PromRuleFile>(PATHS.promRules);
  return new Map(file.groups.flatMap((g) => g.rules).filter((r) => r.alert).map((r) => [r.alert!, r]));
}

/** The provisioned Grafana-managed rules by uid. */
export function grafanaRules(): Map<string, GrafanaRule> {
  const file = readYaml<GrafanaRuleFile>(PATHS.grafanaRules);
  return new Map(file.groups.flatMap((g) => g.rules).map((r) => [r.uid, r]));
}

const COMPARATORS: Record<string, string> = { gt: '>', lt: '<' };

/**
 * The condition of a Grafana-managed rule as one PromQL expression: the Prometheus query the threshold
 * reads, compared the way the threshold compares (`(A) > 1`). Only the shape the provisioning uses is
 * supported (a threshold expression on a Prometheus query); anything else throws, so a rule reshaped
 * in the YAML cannot be silently mistranslated.
 */
export function grafanaCondition(rule: GrafanaRule): { query: string; condition: string } {
  const cond = rule.data.find((d) => d.refId === rule.condition);
  if (!cond || cond.datasourceUid !== '__expr__' || cond.model.type !== 'threshold') {
    throw new Error(`${rule.uid}: condition ${rule.condition} is not a threshold expression`);
  }
  const source = rule.data.find((d) => d.refId === cond.model.expression);
  if (!source?.model.expr) throw new Error(`${rule.uid}: threshold input ${cond.model.expression} is not a Prometheus query`);
  const evaluator = cond.model.conditions?.[0]?.evaluator;
  const op = evaluator && COMPARATORS[evaluator.type];
  if (!evaluator || !op || evaluator.params.length !== 1) throw new Error(`${rule.uid}: unsupported evaluator ${JSON.stringify(evaluator)}`);
  return { query: source.model.expr, condition: `(${source.model.expr.trim()}) ${op} ${evaluator.params[0]}` };
}

// ---- PromQL inspection (enough for the expressions we provision; not a PromQL parser) ----

const KEYWORDS = new Set([
  'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'offset', 'bool', 'inf', 'nan',
]);

/** Names of the metrics an expression selects (identifiers followed by `{`, `[`, or standing alone). */
export function promqlMetricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // label values
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ') // label lists
    .replace(/\[[^\]]*\]/g, ' '); // ranges and subqueries
  const names = new Set<string>();
  for (const m of stripped.matchAll(/(?<![a-zA-Z0-9_.:])[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const name = m[0];
    const after = stripped.slice(m.index! + name.length).trimStart();
    if (after.startsWith('(')) continue; // function call
    if (KEYWORDS.has(name.toLowerCase())) continue;
    names.add(name);
  }
  return [...names].sort();
}

/** Label names used in each metric's selector, e.g. `m{a="x", b=~"y"}` -> m: [a, b]. */
export function promqlSelectorLabels(expr: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const m of expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}/g)) {
    const labels = [...m[2].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)].map((l) => l[1]);
    out.set(m[1], [...(out.get(m[1]) ?? []), ...labels]);
  }
  return out;
}

/** Label names in grouping and matching clauses (`by (...)`, `without (...)`, `on (...)`, `ignoring (...)`). */
export function promqlClauseLabels(expr: string): string[] {
  const out = new Set<string>();
  for (const m of expr.matchAll(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g)) {
    for (const l of m[1].split(',').map((s) => s.trim()).filter(Boolean)) out.add(l);
  }
  return [...out];
}

/** Label values compared with `=` for a label anywhere in an expression (e.g. every `feature="..."`). */
export function promqlEqualityValues(expr: string, label: string): string[] {
  return [...expr.matchAll(new RegExp(`\\b${label}\\s*=\\s*"([^"]*)"`, 'g'))].map((m) => m[1]);
}

/**
 * A dashboard expression with Grafana's variables replaced, so Prometheus can run it: template
 * variables by the given values (regex-safe: a multi-value `All` is `.*`), interval variables by
 * durations.
 */
export function substituteGrafanaVariables(expr: string, vars: Record<string, string>): string {
  let out = expr
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$__interval', '15s')
    .replaceAll('$__range', '1h');
  for (const [name, value] of Object.entries(vars)) out = out.replace(new RegExp(`\\$\\{?${name}\\}?\\b`, 'g'), value);
  if (/\$/.test(out)) throw new Error(`unsubstituted variable in ${out}`);
  return out;
}

// ---- the live metric catalogue ----

/** Metric and label names Sentinel exposes. */
export interface MetricCatalog {
  /** Every sample name /metrics can carry (histograms with _bucket, _sum, _count). */
  names: Set<string>;
  /** Label names per sample name (histogram buckets include `le`). */
  labels: Map<string, Set<string>>;
}

/**
 * Starts Sentinel in-process (empty data directory, free port) and reads the metric names from its
 * live /metrics and the label names from its registry: what the provisioning may reference, without a
 * hard-coded list.
 */
export async function liveMetricCatalog(): Promise<MetricCatalog> {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-catalog-'));
  const app = await createApp(loadConfig({ SENTINEL_DATA_DIR: dir }), createLogger('silent'));
  try {
    const url = await app.http.listen({ host: '127.0.0.1', port: 0 });
    const res = await fetch(`${url}/metrics`);
    if (!res.ok) throw new Error(`/metrics answered ${res.status}`);
    const text = await res.text();
    const names = new Set<string>();
    const types = new Map<string, string>();
    for (const line of text.split('\n')) {
      const t = /^# TYPE (\S+) (\S+)/.exec(line);
      if (t) {
        types.set(t[1], t[2]);
        names.add(t[1]);
        continue;
      }
      const s = /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line);
      if (s) names.add(s[1]);
    }
    const labels = new Map<string, Set<string>>();
    for (const metric of app.metrics.registry.getMetricsAsArray()) {
      const m = metric as unknown as { name: string; labelNames?: string[] };
      labels.set(m.name, new Set(m.labelNames ?? []));
    }
    for (const [name, type] of types) {
      if (type !== 'histogram') continue;
      const base = labels.get(name) ?? new Set<string>();
      for (const suffix of ['_bucket', '_sum', '_count']) {
        names.add(name + suffix);
        labels.set(name + suffix, new Set([...base, ...(suffix === '_bucket' ? ['le'] : [])]));
      }
    }
    return { names, labels };
  } finally {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Labels Prometheus attaches to every scraped series. */
export const TARGET_LABELS = ['instance', 'job'] as const;

/**
 * Problems of an expression against the live catalogue: metrics Sentinel does not expose (names
 * starting with `sentinel_`; `up` and recording-rule names are Prometheus'), selector labels the
 * metric lacks, and grouping labels none of the expression's metrics carries.
 */
export function expressionProblems(expr: string, catalog: MetricCatalog, extraMetrics: ReadonlySet<string> = new Set()): string[] {
  const problems: string[] = [];
  const metrics = promqlMetricNames(expr);
  const known = (name: string) => catalog.names.has(name) || extraMetrics.has(name) || name === 'up' || name === 'ALERTS';
  for (const name of metrics) if (!known(name)) problems.push(`unknown metric ${name}`);
  const labelsOf = (name: string): Set<string> =>
    name === 'up' ? new Set() : (catalog.labels.get(name) ?? new Set());
  for (const [name, used] of promqlSelectorLabels(expr)) {
    if (!name.startsWith('sentinel_')) continue;
    for (const l of used) if (!labelsOf(name).has(l) && !(TARGET_LABELS as readonly string[]).includes(l)) problems.push(`${name} has no label ${l}`);
  }
  const available = new Set<string>(TARGET_LABELS);
  for (const name of metrics) for (const l of labelsOf(name)) available.add(l);
  for (const l of promqlClauseLabels(expr)) if (!available.has(l)) problems.push(`no metric of the expression has label ${l}`);
  if (metrics.length === 0) problems.push('selects no metric');
  return problems;
}

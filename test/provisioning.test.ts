// Static checks of the provisioning (Grafana, Prometheus, docker-compose.yml, Dockerfile): every file
// parses, and everything they reference exists: datasource uids, Sentinel's metric and label names
// (read from a live in-process Sentinel, not a list), plugin ids, features, panels, mounted files.
// No Docker and no Prometheus needed (test/e2e-prometheus.test.ts runs the expressions for real).
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { before, describe, test } from 'node:test';

import { EVENT_FEATURE_NAMES } from '../backend/src/windowing/features';
import { QueryType } from '../plugin/src/datasource/types';
import {
  PATHS,
  allPanels,
  expressionProblems,
  filesUnder,
  grafanaCondition,
  grafanaRules,
  liveMetricCatalog,
  promqlEqualityValues,
  promqlMetricNames,
  readJson,
  readYaml,
  repoPath,
  substituteGrafanaVariables,
  type Dashboard,
  type DsRef,
  type MetricCatalog,
  type PromConfig,
  type PromRuleFile,
} from './support/provisioning';

interface DatasourceFile {
  apiVersion: number;
  datasources: { name: string; uid: string; type: string; url?: string; isDefault?: boolean; jsonData?: Record<string, unknown>; secureJsonData?: Record<string, string> }[];
}
interface ComposeService {
  image?: string;
  build?: unknown;
  profiles?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  depends_on?: Record<string, { condition: string }> | string[];
  healthcheck?: { test: string[] | string };
}
interface Compose {
  services: Record<string, ComposeService>;
  volumes: Record<string, unknown>;
}

const pluginId = (kind: 'datasource' | 'panel'): string => readJson<{ id: string }>(`plugin/src/${kind}/plugin.json`).id;
const DATASOURCE_PLUGIN = pluginId('datasource');
const PANEL_PLUGIN = pluginId('panel');
/** Grafana's built-in panel types the dashboard may use. */
const CORE_PANELS = new Set(['row', 'timeseries', 'stat', 'table', 'bargauge', 'gauge', 'text', 'barchart', 'state-timeline']);

const datasources = () => readYaml<DatasourceFile>(PATHS.grafanaDatasources).datasources;
const dashboard = () => readJson<Dashboard>(PATHS.grafanaDashboard);
const compose = () => readYaml<Compose>(PATHS.compose);
const promConfig = () => readYaml<PromConfig>(PATHS.promConfig);
const sentinelJob = () => {
  const jobs = promConfig().scrape_configs.filter((s) => s.static_configs?.some((c) => c.targets.some((t) => t.startsWith('sentinel:'))));
  assert.equal(jobs.length, 1, 'exactly one scrape job targets the sentinel service');
  return jobs[0];
};

/** Every datasource reference of a dashboard, with where it is. */
function datasourceRefs(dash: Dashboard): { where: string; ref: DsRef }[] {
  const refs: { where: string; ref: DsRef }[] = [];
  for (const p of allPanels(dash)) {
    if (p.datasource) refs.push({ where: `panel ${p.id}`, ref: p.datasource });
    for (const t of p.targets ?? []) if (t.datasource) refs.push({ where: `panel ${p.id} target ${t.refId}`, ref: t.datasource });
  }
  for (const a of dash.annotations.list) {
    if (a.datasource) refs.push({ where: `annotation ${a.name}`, ref: a.datasource });
    if (a.target?.datasource) refs.push({ where: `annotation ${a.name} target`, ref: a.target.datasource });
  }
  for (const v of dash.templating.list) if (v.datasource) refs.push({ where: `variable ${v.name}`, ref: v.datasource });
  return refs;
}

/** Prometheus expressions of a dashboard (panel targets on the Prometheus datasource), variables substituted. */
function dashboardPromExprs(dash: Dashboard, promUid: string): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = [];
  for (const p of allPanels(dash)) {
    for (const t of p.targets ?? []) {
      const uid = t.datasource?.uid ?? p.datasource?.uid;
      if (uid !== promUid) continue;
      assert.ok(typeof t.expr === 'string' && t.expr.trim(), `panel ${p.id} target ${t.refId} has an expression`);
      out.push({ where: `panel ${p.id} "${p.title}" ${t.refId}`, expr: substituteGrafanaVariables(t.expr, { service: '.*', model: '.*' }) });
    }
  }
  return out;
}

let catalog: MetricCatalog;
before(async () => {
  catalog = await liveMetricCatalog();
});

describe('provisioning files', () => {
  test('every YAML and JSON file under provisioning/ parses, and so does docker-compose.yml', () => {
    const files = filesUnder('provisioning');
    const yaml = files.filter((f) => /\.ya?ml$/.test(f));
    const json = files.filter((f) => f.endsWith('.json'));
    assert.ok(yaml.length >= 8, `found ${yaml.length} YAML files`);
    assert.ok(json.length >= 1, 'found the dashboard JSON');
    for (const f of yaml) assert.ok(readYaml(f) !== null && typeof readYaml(f) === 'object', `${f} is a YAML mapping`);
    for (const f of json) assert.equal(typeof readJson(f), 'object', f);
    assert.equal(typeof compose().services, 'object');
  });

  test('the live catalogue has the contract metrics (sanity of the reference the other checks use)', () => {
    for (const name of ['sentinel_anomaly_score', 'sentinel_anomalies_detected_total', 'sentinel_detection_latency_seconds_bucket', 'sentinel_expected_value_upper']) {
      assert.ok(catalog.names.has(name), name);
    }
    assert.deepEqual([...catalog.labels.get('sentinel_anomaly_score')!].sort(), ['model', 'service', 'signal']);
    assert.ok(!catalog.names.has('sentinel_no_such_metric'));
    assert.deepEqual(expressionProblems('rate(sentinel_no_such_metric_total[5m])', catalog), ['unknown metric sentinel_no_such_metric_total']);
    assert.deepEqual(expressionProblems('sum by (colour) (sentinel_anomaly_score{flavour="x"})', catalog), [
      'sentinel_anomaly_score has no label flavour',
      'no metric of the expression has label colour',
    ]);
  });
});

describe('Prometheus', () => {
  test("the OTel collector's config reads only environment variables its compose service sets", async () => {
    const { readFileSync } = await import('node:fs');
    const collector = readFileSync(repoPath('provisioning/otel/collector.yaml'), 'utf8');
    const used = [...collector.matchAll(/\$\{env:([A-Z0-9_]+)\}/g)].map((m) => m[1]);
    assert.ok(used.length > 0, 'the collector config uses environment variables (the API key)');
    const env = compose().services['otel-collector']?.environment ?? {};
    for (const name of used) assert.ok(name in env, `otel-collector sets ${name} (else the exporter sends an empty bearer token)`);
  });

  test('scrapes Sentinel at its compose service name and port and loads the rules file', () => {
    const job = sentinelJob();
    assert.equal(job.job_name, 'sentinel');
    assert.equal(job.metrics_path ?? '/metrics', '/metrics');
    const sentinel = compose().services.sentinel;
    const target = job.static_configs![0].targets[0];
    assert.equal(target, `sentinel:${sentinel.environment!.SENTINEL_PORT}`);
    const rules = promConfig().rule_files ?? [];
    assert.deepEqual(rules, ['sentinel-rules.yml']);
    for (const f of rules) assert.ok(existsSync(repoPath('provisioning/prometheus', f)), f);
  });

  test('alerting and recording rules use only metrics and labels Sentinel exposes', () => {
    const file = readYaml<PromRuleFile>(PATHS.promRules);
    const rules = file.groups.flatMap((g) => g.rules);
    assert.ok(rules.some((r) => r.alert === 'SentinelAnomalyScoreHigh') && rules.some((r) => r.alert === 'SentinelAnomalyDetected'));
    const job = sentinelJob().job_name;
    for (const r of rules) {
      const name = r.alert ?? r.record!;
      assert.deepEqual(expressionProblems(r.expr, catalog), [], name);
      for (const j of promqlEqualityValues(r.expr, 'job')) assert.equal(j, job, `${name}: job="${j}" is the scrape job`);
      if (r.alert) assert.ok(r.annotations?.summary, `${name} has a summary`);
    }
    const used = new Set(rules.flatMap((r) => promqlMetricNames(r.expr)));
    assert.ok(used.has('sentinel_anomaly_score') && used.has('sentinel_anomalies_detected_total'));
  });
});

describe('Grafana datasources', () => {
  test('pinned unique uids; the Sentinel datasource is the plugin, reaches the compose service and takes its key from the environment', () => {
    const ds = datasources();
    assert.equal(new Set(ds.map((d) => d.uid)).size, ds.length, 'unique uids');
    for (const d of ds) assert.match(d.uid, /^[a-zA-Z0-9_-]{1,40}$/, `${d.name} has a pinned uid`);
    const prom = ds.find((d) => d.type === 'prometheus');
    assert.ok(prom?.isDefault, 'Prometheus is the default datasource');
    assert.equal(prom.url, 'http://prometheus:9090');
    assert.ok(compose().services.prometheus, 'prometheus is a compose service');
    const sentinel = ds.find((d) => d.type === DATASOURCE_PLUGIN);
    assert.ok(sentinel, `a datasource of type ${DATASOURCE_PLUGIN}`);
    assert.equal(sentinel.jsonData?.url, `http://sentinel:${compose().services.sentinel.environment!.SENTINEL_PORT}`);
    // The plugin's proxy route reads exactly these fields.
    const pluginJson = readFileSync(repoPath('plugin/src/datasource/plugin.json'), 'utf8');
    assert.match(pluginJson, /\.JsonData\.url/);
    assert.match(pluginJson, /\.SecureJsonData\.apiKey/);
    assert.equal(sentinel.secureJsonData?.apiKey, '$SENTINEL_API_KEY', 'the key is an environment reference, never a literal');
    assert.ok('SENTINEL_API_KEY' in compose().services.grafana.environment!, 'compose passes SENTINEL_API_KEY to Grafana');
  });
});

describe('Grafana dashboard', () => {
  test('is found by the dashboard provider', () => {
    const provider = readYaml<{ providers: { options: { path: string } }[] }>(PATHS.grafanaDashboardProvider).providers[0];
    const mount = compose().services.grafana.volumes!.find((v) => v.startsWith('./provisioning/grafana:'))!;
    const containerRoot = mount.split(':')[1];
    assert.ok(provider.options.path.startsWith(`${containerRoot}/`));
    const hostDir = `provisioning/grafana${provider.options.path.slice(containerRoot.length)}`;
    assert.ok(filesUnder(hostDir).includes(PATHS.grafanaDashboard), `${PATHS.grafanaDashboard} is under ${hostDir}`);
    const d = dashboard();
    assert.equal(d.title, 'LLM-Sentinel overview');
    assert.equal(d.uid, 'llm-sentinel-overview');
  });

  test('references only provisioned datasource uids, with matching types', () => {
    const byUid = new Map(datasources().map((d) => [d.uid, d.type]));
    const refs = datasourceRefs(dashboard());
    assert.ok(refs.length > 20);
    for (const { where, ref } of refs) {
      if (ref.uid === '-- Grafana --') continue;
      assert.ok(byUid.has(ref.uid!), `${where}: uid ${ref.uid} is provisioned`);
      if (ref.type) assert.equal(ref.type, byUid.get(ref.uid!), `${where}: type of ${ref.uid}`);
    }
    const uids = new Set(refs.map((r) => r.ref.uid));
    for (const d of datasources()) assert.ok(uids.has(d.uid), `the dashboard uses ${d.name}`);
  });

  test('Prometheus queries use metrics, labels and features Sentinel exposes', () => {
    const promUid = datasources().find((d) => d.type === 'prometheus')!.uid;
    const exprs = dashboardPromExprs(dashboard(), promUid);
    assert.ok(exprs.length >= 20, `${exprs.length} expressions`);
    const job = sentinelJob().job_name;
    for (const { where, expr } of exprs) {
      assert.deepEqual(expressionProblems(expr, catalog), [], `${where}: ${expr}`);
      for (const f of promqlEqualityValues(expr, 'feature')) assert.ok(EVENT_FEATURE_NAMES.includes(f), `${where}: feature ${f} exists`);
      for (const j of promqlEqualityValues(expr, 'job')) assert.equal(j, job, `${where}: job`);
    }
    // The panels the issue asks for: score per service/model, feature vs expected band, detector health.
    const all = exprs.map((e) => e.expr).join('\n');
    for (const m of ['sentinel_anomaly_score', 'sentinel_feature_value', 'sentinel_expected_value_lower', 'sentinel_expected_value_upper', 'sentinel_detector_errors_total']) {
      assert.ok(all.includes(m), `some panel plots ${m}`);
    }
    for (const f of ['input_tokens_sum', 'output_tokens_sum', 'latency_p95_ms']) assert.ok(all.includes(`feature="${f}"`), `band panel for ${f}`);
    for (const v of dashboard().templating.list) {
      const q = v.definition ?? '';
      const m = /^label_values\((.*),\s*([a-zA-Z_]+)\)$/.exec(q);
      assert.ok(m, `variable ${v.name} is a label_values() query`);
      const selector = substituteGrafanaVariables(m[1], { service: '.*', model: '.*' });
      assert.deepEqual(expressionProblems(selector, catalog), [], `variable ${v.name}`);
      assert.ok(catalog.labels.get(promqlMetricNames(selector)[0])!.has(m[2]), `variable ${v.name}: label ${m[2]}`);
    }
  });

  test('Sentinel queries, annotations and panels match the plugin', () => {
    const d = dashboard();
    const queryTypes = new Set<string>(Object.values(QueryType));
    const sentinelUid = datasources().find((x) => x.type === DATASOURCE_PLUGIN)!.uid;
    let sentinelTargets = 0;
    for (const p of allPanels(d)) {
      assert.ok(CORE_PANELS.has(p.type) || p.type === PANEL_PLUGIN, `panel ${p.id}: type ${p.type}`);
      for (const t of p.targets ?? []) {
        if ((t.datasource?.uid ?? p.datasource?.uid) !== sentinelUid) continue;
        sentinelTargets++;
        assert.ok(queryTypes.has(t.queryType!), `panel ${p.id} target ${t.refId}: queryType ${t.queryType}`);
      }
    }
    assert.ok(sentinelTargets >= 3);
    // Scores and anomalies follow the dashboard's $service / $model like the Prometheus panels (QA: the table
    // and the timeline showed every service while the rest was filtered).
    for (const p of allPanels(d)) {
      for (const t of p.targets ?? []) {
        if ((t.datasource?.uid ?? p.datasource?.uid) !== sentinelUid || (t.queryType !== QueryType.Scores && t.queryType !== QueryType.Anomalies)) continue;
        assert.equal(t.service, '$service', `panel ${p.id} target ${t.refId}: service`);
        assert.equal(t.model, '$model', `panel ${p.id} target ${t.refId}: model`);
      }
    }
    const timeline = allPanels(d).find((p) => p.type === PANEL_PLUGIN);
    assert.ok(timeline, 'the plugin panel is on the dashboard');
    assert.deepEqual(timeline.targets!.map((t) => t.queryType).sort(), [QueryType.Anomalies, QueryType.Scores].sort());
    assert.ok(allPanels(d).some((p) => p.type === 'table' && p.targets?.some((t) => t.queryType === QueryType.Anomalies)), 'anomalies table');
    const anno = d.annotations.list.find((a) => a.datasource?.uid === sentinelUid);
    assert.ok(anno, 'anomalies as annotations');
    assert.equal(anno.target?.queryType, QueryType.Anomalies);
  });

  test('layout: unique panel ids, panels inside 24 columns, every variable used is defined', () => {
    const d = dashboard();
    const panels = allPanels(d);
    assert.equal(new Set(panels.map((p) => p.id)).size, panels.length, 'unique ids');
    for (const p of panels) {
      const g = p.gridPos;
      assert.ok(g.x >= 0 && g.w > 0 && g.x + g.w <= 24 && g.h > 0 && g.y >= 0, `panel ${p.id} grid ${JSON.stringify(g)}`);
    }
    const defined = new Set(d.templating.list.map((v) => v.name));
    const text = JSON.stringify(d.panels);
    for (const m of text.matchAll(/\$\{?([a-zA-Z_]\w*)/g)) {
      if (m[1].startsWith('__')) continue;
      assert.ok(defined.has(m[1]), `variable $${m[1]} is defined`);
    }
    for (const p of panels) if (p.repeat) assert.ok(defined.has(p.repeat), `panel ${p.id} repeats by a defined variable`);
  });
});

describe('Grafana alerting', () => {
  test('rules: stable unique uids, a threshold on a Prometheus query, existing metrics, linked panels', () => {
    const rules = grafanaRules();
    const file = readYaml<{ apiVersion: number; groups: { folder: string; interval: string }[] }>(PATHS.grafanaRules);
    assert.equal(file.apiVersion, 1);
    assert.ok(file.groups.every((g) => g.folder && /^\d+[smh]$/.test(g.interval)));
    assert.ok(rules.has('llm-sentinel-anomaly-score') && rules.has('llm-sentinel-anomalies-detected'), 'the rules dashboards and docs link to');
    const byUid = new Map(datasources().map((d) => [d.uid, d.type]));
    const d = dashboard();
    const panelIds = new Set(allPanels(d).map((p) => p.id));
    const metricsUsed = new Set<string>();
    for (const [uid, r] of rules) {
      assert.match(uid, /^llm-sentinel-[a-z0-9-]+$/);
      assert.ok(uid.length <= 40, `${uid} fits Grafana's uid limit`);
      assert.ok(r.title && r.labels?.component === 'llm-sentinel', `${uid} title and labels`);
      assert.equal(new Set(r.data.map((q) => q.refId)).size, r.data.length, `${uid}: unique refIds`);
      for (const q of r.data) {
        assert.ok(q.datasourceUid === '__expr__' || byUid.get(q.datasourceUid) === 'prometheus', `${uid} ${q.refId}: datasource ${q.datasourceUid}`);
        if (q.datasourceUid !== '__expr__') {
          assert.equal(q.model.instant, true, `${uid} ${q.refId} is an instant query`);
          assert.ok(q.relativeTimeRange, `${uid} ${q.refId} has a time range`);
          assert.deepEqual(expressionProblems(q.model.expr!, catalog), [], `${uid} ${q.refId}`);
          for (const m of promqlMetricNames(q.model.expr!)) metricsUsed.add(m);
        }
      }
      const { condition } = grafanaCondition(r);
      assert.ok(condition.length > 0);
      assert.ok(['OK', 'NoData', 'Alerting', 'KeepLast'].includes(r.noDataState!), `${uid} noDataState`);
      assert.ok(['Error', 'Alerting', 'OK', 'KeepLast'].includes(r.execErrState!), `${uid} execErrState`);
      assert.equal(r.dashboardUid, d.uid, `${uid} links the dashboard`);
      assert.ok(panelIds.has(r.panelId!), `${uid} links an existing panel`);
    }
    assert.ok(metricsUsed.has('sentinel_anomaly_score') && metricsUsed.has('sentinel_anomalies_detected_total'));
  });

  test('the notification policy routes to the provisioned contact point, whose URL comes from the environment', () => {
    const cps = readYaml<{ contactPoints: { name: string; receivers: { uid: string; type: string; settings: Record<string, string> }[] }[] }>(PATHS.grafanaContactPoints).contactPoints;
    const names = new Set(cps.map((c) => c.name));
    const policies = readYaml<{ policies: { receiver: string; routes?: { receiver: string; object_matchers?: string[][] }[] }[] }>(PATHS.grafanaPolicies).policies;
    assert.equal(policies.length, 1);
    for (const r of [policies[0].receiver, ...(policies[0].routes ?? []).map((x) => x.receiver)]) assert.ok(names.has(r), `receiver ${r} exists`);
    for (const route of policies[0].routes ?? []) for (const m of route.object_matchers ?? []) assert.equal(m.length, 3);
    const webhook = cps.flatMap((c) => c.receivers).find((r) => r.type === 'webhook');
    assert.ok(webhook);
    const variable = /^\$\{?([A-Z_]+)\}?$/.exec(webhook.settings.url)?.[1];
    assert.ok(variable, 'the webhook URL is an environment reference');
    assert.ok(compose().services.grafana.environment![variable], `compose gives ${variable} a default`);
  });
});

describe('docker-compose.yml and Dockerfile', () => {
  test('the stack: services wired by name, health checks, data volumes, provisioning and the plugin mounted', () => {
    const c = compose();
    for (const s of ['sentinel', 'qdrant', 'prometheus', 'grafana']) {
      assert.ok(c.services[s], s);
      assert.ok(c.services[s].healthcheck, `${s} has a health check`);
      assert.ok(!c.services[s].profiles, `${s} starts by default`);
    }
    const { sentinel, grafana, prometheus } = c.services;
    assert.ok(sentinel.build, 'sentinel is built from the repository');
    assert.equal(sentinel.environment!.SENTINEL_HOST, '0.0.0.0');
    assert.equal(sentinel.environment!.SENTINEL_QDRANT_URL, 'http://qdrant:6333');
    assert.match(grafana.image!, /^grafana\/grafana:12\./);
    const unsigned = grafana.environment!.GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS.split(',');
    assert.deepEqual(unsigned.sort(), [DATASOURCE_PLUGIN, PANEL_PLUGIN].sort());
    for (const id of [DATASOURCE_PLUGIN, PANEL_PLUGIN]) {
      assert.ok(grafana.volumes!.includes(`./plugin/dist/${id}:/var/lib/grafana/plugins/${id}:ro`), `plugin ${id} mounted from ./plugin/dist`);
    }
    // Host paths of bind mounts exist (./plugin/dist is the output of `npm run build -w plugin`;
    // provisioning/otel belongs to the optional collector).
    for (const [name, s] of Object.entries(c.services)) {
      for (const v of s.volumes ?? []) {
        const host = v.split(':')[0];
        if (!host.startsWith('./')) {
          assert.ok(host in c.volumes, `${name}: named volume ${host} is declared`);
          continue;
        }
        if (host.startsWith('./plugin/dist/') || host.startsWith('./provisioning/otel/')) continue;
        assert.ok(existsSync(repoPath(host)), `${name}: ${host} exists`);
      }
    }
    assert.ok(prometheus.volumes!.some((v) => v.startsWith(`./${PATHS.promConfig}:`)));
    assert.ok(prometheus.volumes!.some((v) => v.startsWith(`./${PATHS.promRules}:`)));
    assert.ok(grafana.volumes!.some((v) => v.startsWith('./provisioning/grafana:/etc/grafana/provisioning')));
    const otel = c.services['otel-collector'];
    assert.deepEqual(otel?.profiles, ['otel']);
    assert.ok(otel.volumes!.some((v) => v.startsWith('./provisioning/otel/collector.yaml:')));
    // Datasource and scrape URLs name compose services.
    for (const host of ['sentinel', 'prometheus', 'qdrant']) assert.ok(c.services[host]);
  });

  test('the optional collector configuration exists', (t) => {
    if (!existsSync(repoPath('provisioning/otel/collector.yaml'))) {
      t.skip('provisioning/otel/collector.yaml not written yet (another part of issue work)');
      return;
    }
    assert.equal(typeof readYaml('provisioning/otel/collector.yaml'), 'object');
  });

  test('the plugin build provides what Grafana mounts', (t) => {
    if (!existsSync(repoPath('plugin/dist'))) {
      t.skip('plugin/dist not built (npm run build -w plugin)');
      return;
    }
    for (const id of [DATASOURCE_PLUGIN, PANEL_PLUGIN]) {
      assert.equal(readJson<{ id: string }>(`plugin/dist/${id}/plugin.json`).id, id);
      assert.ok(existsSync(repoPath(`plugin/dist/${id}/module.js`)), `${id}/module.js`);
    }
  });

  test('Dockerfile: node 20 slim, native build tools, npm ci, the service itself as the process (SIGTERM reaches it) on all interfaces', () => {
    const text = readFileSync(repoPath('Dockerfile'), 'utf8');
    assert.match(text, /^FROM node:20-bookworm-slim/m);
    assert.match(text, /apt-get install[^\n]*python3 make g\+\+/);
    assert.match(text, /npm ci\b/);
    assert.match(text, /SENTINEL_HOST=0\.0\.0\.0/);
    assert.match(text, /^CMD \["node", "backend\/bin\/sentinel\.js", "serve"\]$/m);
    for (const p of ['package.json', 'package-lock.json', 'embeddings', 'backend', 'plugin/package.json', 'tsconfig.json']) {
      assert.ok(text.includes(p), `the image gets ${p}`);
    }
    const ignore = readFileSync(repoPath('.dockerignore'), 'utf8');
    assert.match(ignore, /node_modules/);
  });
});

/**
 * Browser test: the panel and the query editor, built from the plugin's sources with real React and
 * @grafana/ui, in Debian's chromium (playwright-core), against a running Sentinel backend seeded
 * through its API. Clicking "False positive" must change the backend's state.
 *
 * Requires /usr/bin/chromium (or SENTINEL_CHROMIUM); fails, does not skip, without it.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { chromium, type BrowserContext, type Page } from 'playwright-core';

import type { AnomalyRecord } from '../../src/shared/api-types';
import { startBackend, type Backend } from './harness/backend';
import { buildPage } from './harness/build-page';
import { startPageServer, type PageServer } from './harness/page-server';
import { seedBackend, type SeedPlan } from './harness/seed';

const PLUGIN_ROOT = resolve(import.meta.dirname, '../..');
const REPO_ROOT = resolve(PLUGIN_ROOT, '..');
const OUTPUT = join(PLUGIN_ROOT, 'test-output');
const CHROMIUM = process.env.SENTINEL_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];
const API_KEY = 'browser-test-key-0001';
const DATASOURCE_UID = 'sentinel-browser';
const MINUTE = 60_000;

// Its own test so a machine without chromium reports a failure, not only cancelled tests.
it(`Debian chromium is installed at ${CHROMIUM}`, () => {
  assert.ok(existsSync(CHROMIUM), `chromium not found at ${CHROMIUM}: install it with "apt-get install -y chromium"`);
});

describe('LLM-Sentinel panel and query editor in chromium against a running backend', () => {
  let backend: Backend | undefined;
  let server: PageServer | undefined;
  let browser: BrowserContext | undefined;
  let userDataDir: string | undefined;
  let plan: SeedPlan;
  const pageErrors: string[] = [];

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `chromium not found at ${CHROMIUM}: install it with "apt-get install -y chromium"`);
    mkdirSync(OUTPUT, { recursive: true });
    const [pageDir, started] = await Promise.all([
      buildPage(join(OUTPUT, 'page')),
      startBackend({ repoRoot: REPO_ROOT, apiKeys: API_KEY }),
    ]);
    backend = started;
    plan = await seedBackend(backend.url, API_KEY);
    server = await startPageServer({ pageDir, backendUrl: backend.url, apiKey: API_KEY, datasourceUid: DATASOURCE_UID });
    userDataDir = mkdtempSync(join(tmpdir(), 'sentinel-chromium-'));
    // A persistent context on a fresh directory: a clean profile, removed afterwards.
    browser = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1260, height: 960 },
      deviceScaleFactor: 1,
    });
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    await backend?.stop();
    if (userDataDir) {
      rmSync(userDataDir, { recursive: true, force: true });
    }
  });

  /** Opens the page over the seeded range and waits until the panel has rendered. */
  async function openPage(theme: 'dark' | 'light', role = 'Editor'): Promise<Page> {
    const page = await browser!.newPage();
    page.on('pageerror', (err) => pageErrors.push(err.message));
    const from = plan.start - 2 * MINUTE;
    const to = plan.end + 2 * MINUTE;
    await page.goto(`${server!.url}/?theme=${theme}&from=${from}&to=${to}&role=${role}`);
    await page.waitForFunction(() => Boolean(window.sentinelPage || window.sentinelPageError), undefined, { timeout: 30_000 });
    const error = await page.evaluate(() => window.sentinelPageError);
    assert.equal(error, undefined, `page failed: ${error}`);
    await page.getByTestId('sentinel-panel').waitFor({ timeout: 15_000 });
    return page;
  }

  async function backendGet<T>(path: string): Promise<T> {
    const res = await fetch(`${backend!.url}${path}`, { headers: { Authorization: `Bearer ${API_KEY}` } });
    assert.equal(res.status, 200, `GET ${path} -> ${res.status}`);
    return (await res.json()) as T;
  }

  it('reaches the backend only through the proxy route, which adds the API key', async () => {
    const direct = await fetch(`${backend!.url}/api/v1/anomalies`);
    assert.equal(direct.status, 401, 'the backend must require the key the proxy route injects');
    const page = await openPage('dark');
    const health = await page.evaluate(() => window.sentinelPage!.health());
    assert.equal(health.status, 'success', health.message);
    assert.match(health.message, /^Connected to LLM-Sentinel .*: sqlite store ok .*, 2 active series\.$/);
    assert.ok(server!.proxied.some((p) => p.startsWith('GET /api/v1/scores?')));
    assert.ok(server!.proxied.some((p) => p.startsWith('GET /api/v1/anomalies?')));
    await page.close();
  });

  it("names a wrong API key as such, although Grafana's data proxy turns the 401 into a 400", async () => {
    const page = await openPage('dark');
    server!.setApiKey('not-the-key');
    try {
      const health = await page.evaluate(() => window.sentinelPage!.health());
      assert.equal(health.status, 'error');
      assert.match(health.message, /^LLM-Sentinel rejected the API key \(401, reported by Grafana's data proxy as 400 "Authentication to data source failed"\)/);
    } finally {
      server!.setApiKey(API_KEY);
    }
    await page.close();
  });

  it('offers Viewers no feedback buttons, and the proxy refuses their writes', async () => {
    server!.setOrgRole('Viewer');
    try {
      const page = await openPage('dark', 'Viewer');
      const pane = page.getByTestId('explanation-pane');
      await pane.getByTestId('evidence-table').waitFor();
      assert.equal(await pane.getByRole('button', { name: 'False positive' }).count(), 0);
      assert.match(await pane.getByTestId('feedback-status').innerText(), /Feedback needs the Editor role/);
      const { items } = await backendGet<{ items: AnomalyRecord[] }>('/api/v1/anomalies?limit=1');
      const answer = await page.evaluate((id) => window.sentinelPage!.feedback(id), items[0].id);
      assert.match(answer, /^Sentinel API 403: plugin proxy route access denied/);
      const record = await backendGet<AnomalyRecord>(`/api/v1/anomalies/${encodeURIComponent(items[0].id)}`);
      assert.equal(record.feedback ?? null, null, 'the backend recorded no feedback');
      await page.close();
    } finally {
      server!.setOrgRole('Editor');
    }
  });

  it('shows the feature with its expected band, the anomalies by severity and the explanation', async () => {
    const { items } = await backendGet<{ items: AnomalyRecord[] }>('/api/v1/anomalies?service=chat');
    assert.ok(items.length > 0, 'backend has an anomaly for chat');
    const shown = items.find((a) => a.severity === 'critical') ?? items[0];

    const page = await openPage('dark');
    const band = await page.getByTestId('expected-band').getAttribute('d');
    assert.match(band ?? '', /^M[\d.,]+L.*Z/, 'expected band is a filled polygon');
    assert.ok(((await page.getByTestId('value-line').getAttribute('d')) ?? '').split('L').length > 30, 'feature line has the seeded minutes');
    assert.ok(await page.getByTestId('score-line').isVisible());

    const regions = page.getByTestId('anomaly-region');
    assert.ok((await regions.count()) >= 1, 'at least one anomaly region');
    const severities = await regions.evaluateAll((els) => els.map((e) => e.getAttribute('data-severity')));
    assert.ok(severities.every((s) => ['critical', 'high', 'medium', 'low'].includes(s ?? '')), severities.join(','));
    // The region sits over the spike.
    const box = await regions.first().locator('rect').first().boundingBox();
    assert.ok(box && box.width >= 4, 'region is visible');

    const pane = page.getByTestId('explanation-pane');
    await pane.getByTestId('evidence-table').waitFor();
    const paneText = await pane.innerText();
    assert.ok(paneText.includes(shown.explanation!.summary), `pane shows the summary "${shown.explanation!.summary}"`);
    assert.ok(paneText.includes(shown.attributions![0].feature), 'evidence lists the feature that moved');
    assert.match(paneText, /What moved/i, 'markdown headings rendered');
    assert.equal(await pane.locator('script, img, iframe').count(), 0);

    await page.getByTestId('panel-frame').screenshot({ path: join(OUTPUT, 'panel-dark.png') });
    await page.close();
  });

  it('renders in the light theme', async () => {
    const page = await openPage('light');
    const background = await page.getByTestId('panel-frame').evaluate((el) => getComputedStyle(el).backgroundColor);
    const [r, g, b] = (background.match(/\d+/g) ?? []).map(Number);
    assert.ok(r > 200 && g > 200 && b > 200, `light panel background, got ${background}`);
    await page.getByTestId('explanation-pane').getByTestId('evidence-table').waitFor();
    await page.getByTestId('panel-frame').screenshot({ path: join(OUTPUT, 'panel-light.png') });
    await page.close();
  });

  it('"False positive" posts feedback through the datasource and the backend records it', async () => {
    const page = await openPage('dark');
    const pane = page.getByTestId('explanation-pane');
    await pane.getByTestId('evidence-table').waitFor();
    const selected = await page.locator('[data-testid="anomaly-region"][data-selected="true"]').count();
    assert.equal(selected, 1, 'one anomaly is selected');
    const before = server!.proxied.length;

    await pane.getByRole('button', { name: 'False positive' }).click();
    await pane.getByText(/Feedback recorded: false positive/).waitFor({ timeout: 15_000 });

    const feedbackCall = server!.proxied.slice(before).find((p) => p.startsWith('POST /api/v1/feedback'));
    assert.ok(feedbackCall, `feedback went through the proxy route: ${server!.proxied.slice(before).join(', ')}`);
    const { items } = await backendGet<{ items: AnomalyRecord[] }>('/api/v1/anomalies?service=chat');
    const marked = items.filter((a) => a.feedback?.verdict === 'false_positive');
    assert.equal(marked.length, 1, 'exactly the selected anomaly carries the feedback');
    const record = await backendGet<AnomalyRecord>(`/api/v1/anomalies/${encodeURIComponent(marked[0].id)}`);
    assert.equal(record.feedback?.verdict, 'false_positive');
    // The pane re-read the anomaly after posting.
    assert.ok(server!.proxied.slice(before).some((p) => p.startsWith(`GET /api/v1/anomalies/${encodeURIComponent(marked[0].id)}`)));

    await page.getByTestId('panel-frame').screenshot({ path: join(OUTPUT, 'panel-after-feedback.png') });
    await page.close();
  });

  it('query editor offers what the backend knows and builds the query', async () => {
    const page = await openPage('dark');
    const editor = page.getByTestId('query-editor-frame');

    await editor.locator('#sentinel-service').click();
    await page.getByRole('option', { name: 'search' }).waitFor();
    await page.getByRole('option', { name: 'chat', exact: true }).click();
    await page.waitForFunction(() => document.querySelector('[data-testid="query-json"]')?.textContent?.includes('"service":"chat"'));

    await editor.locator('#sentinel-feature').click();
    await page.getByRole('option', { name: 'latency_p95_ms' }).click();
    const json = JSON.parse((await editor.getByTestId('query-json').textContent()) ?? '{}') as Record<string, unknown>;
    assert.deepEqual(json, { refId: 'A', queryType: 'scores', service: 'chat', feature: 'latency_p95_ms' });
    assert.equal(await editor.getByTestId('query-runs').textContent(), '2');
    await editor.screenshot({ path: join(OUTPUT, 'query-editor-scores.png') });

    await editor.getByRole('radio', { name: 'Anomalies' }).check();
    await editor.locator('#sentinel-severity').click();
    await page.getByRole('option', { name: 'critical' }).click();
    await page.waitForFunction(() => document.querySelector('[data-testid="query-json"]')?.textContent?.includes('"severity":["critical"]'));

    await editor.getByRole('radio', { name: 'Explanation' }).check();
    await editor.locator('#sentinel-anomaly').click();
    await page.getByRole('option', { name: /latency_spike · chat/ }).first().click();
    await page.waitForFunction(() => /"anomalyId":"[^"]+"/.test(document.querySelector('[data-testid="query-json"]')?.textContent ?? ''));

    await editor.screenshot({ path: join(OUTPUT, 'query-editor-explanation.png') });
    await page.close();
  });

  it('answers template variable queries and turns anomalies into severity-coloured annotations', async () => {
    const page = await openPage('dark');
    assert.deepEqual(await page.evaluate(() => window.sentinelPage!.variable('services()')), ['chat', 'search']);
    assert.deepEqual(await page.evaluate(() => window.sentinelPage!.variable('models(search)')), ['gpt-4o-mini']);
    const annotations = await page.evaluate(() => window.sentinelPage!.annotations());
    assert.ok(annotations.length >= 1);
    const colours: Record<string, string> = { critical: 'red', high: 'orange', medium: 'yellow', low: 'blue' };
    for (const a of annotations) {
      const severity = a.title?.split(' ')[0] ?? '';
      assert.equal(a.color, colours[severity], `colour of ${a.title}`);
      assert.equal(a.isRegion, true);
      assert.ok(a.timeEnd! > a.time!);
    }
    assert.ok(annotations.some((a) => a.time! >= plan.spikeStart - 2 * MINUTE && a.time! <= plan.spikeEnd), 'an annotation at the spike');
    await page.close();
  });

  it('raised no errors in the page', () => {
    assert.deepEqual(pageErrors, []);
  });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { REJECTION_REASONS, SentinelMetrics } from '../src/metrics';

/** docs/METRICS.md lists every metric of the registry, with its type and labels (and nothing that is gone). */
test('docs/METRICS.md matches the metrics the service registers', () => {
  const doc = readFileSync(new URL('../../docs/METRICS.md', import.meta.url), 'utf8');
  const documented = new Map<string, string>();
  for (const m of doc.matchAll(/^\| `(sentinel_[a-z_]+)` \| (\w+) \| ([^|]*) \|/gm)) documented.set(m[1], `${m[2]} ${m[3].replace(/[`\s]/g, '')}`);
  const registered = new Map<string, string>();
  for (const metric of new SentinelMetrics(undefined, { defaultMetrics: false }).registry.getMetricsAsArray()) {
    const x = metric as unknown as { name: string; labelNames: string[]; constructor: { name: string } };
    registered.set(x.name, `${x.constructor.name.toLowerCase()} ${x.labelNames.join(',')}`);
  }
  assert.deepEqual(documented, registered);
});

/** The reasons docs/METRICS.md gives for refused events are the label values the service uses (QA: `future` was missing). */
test('docs/METRICS.md lists every reason of sentinel_events_rejected_total', () => {
  const doc = readFileSync(new URL('../../docs/METRICS.md', import.meta.url), 'utf8');
  const row = /^\| `sentinel_events_rejected_total` \|[^\n]*\(([^)]*)\) \|$/m.exec(doc);
  assert.ok(row, 'no row for sentinel_events_rejected_total with its reasons in parentheses');
  assert.deepEqual(row[1].split(/,\s*/).sort(), [...REJECTION_REASONS].sort());
});

/**
 * The counters docs/METRICS.md says exist at 0 from the start are those the registry has label sets of before
 * anything is counted (QA: the note named only sentinel_feedback_total).
 */
test('docs/METRICS.md names the labelled counters that start at 0', async () => {
  const doc = readFileSync(new URL('../../docs/METRICS.md', import.meta.url), 'utf8');
  const note = /\n- Counters of a label value appear once something was counted with it, except ([^]*?)(?:\n- |\n\n|\n?$)/.exec(doc);
  assert.ok(note, 'no note on the counters that start at 0');
  const documented = [...note[1].matchAll(/`(sentinel_[a-z_]+)`/g)].map((m) => m[1]).sort();
  const atZero: string[] = [];
  for (const metric of new SentinelMetrics(undefined, { defaultMetrics: false }).registry.getMetricsAsArray()) {
    const m = metric as unknown as { name: string; labelNames: string[]; constructor: { name: string }; get(): Promise<{ values: { value: number }[] }> };
    if (m.constructor.name !== 'Counter' || m.labelNames.length === 0) continue;
    const { values } = await m.get();
    if (values.length > 0) atZero.push(m.name);
  }
  assert.deepEqual(documented, atZero.sort());
});

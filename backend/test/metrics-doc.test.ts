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

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Attribution } from '../../src/domain/types';
import { evidenceExplanation } from '../../src/explain/evidence';
import type { Detection } from '../../src/pipeline/scorer';
import { EVENT_FEATURE_NAMES } from '../../src/windowing/features';

/** The parts of a detection the evidence explanation reads. */
function detection(kind: 'events' | 'points', attributions: Attribution[], features: number[] = []): Detection {
  const n = kind === 'events' ? EVENT_FEATURE_NAMES.length : 1;
  return {
    score: 1.4,
    type: 'other',
    reasons: [],
    attributions,
    neighbours: [],
    similarIncidents: [],
    state: { kind },
    observation: { kind, features: Float64Array.from({ length: n }, (_, j) => features[j] ?? 1) },
    input: { baseline: { center: new Float64Array(n).fill(30) } },
  } as unknown as Detection;
}

const latency = (actual: number): Attribution => ({ feature: 'latency_p50_ms', actual, expected: 1795, lower: 1678, upper: 1913, z: 1.2 });

test('the lead names a feature as moved only when it left its normal range', () => {
  assert.match(evidenceExplanation(detection('events', [latency(2400)]), { service: 'chat' }).summary, /: latency_p50_ms up to 2,400 \(expected ~1,795, normal 1,678 to 1,913/);
  const inside = evidenceExplanation(detection('events', [latency(1848)]), { service: 'chat' }).summary;
  assert.match(inside, /no single feature is outside its normal range; the window as a whole is unlike this series' normal ones \(closest to its edge: latency_p50_ms up to 1,848/);
  const point = evidenceExplanation(detection('points', [{ feature: 'value', actual: 40.2, expected: 46, lower: 25, upper: 67, z: -1.1 }]), { series: 'cpu' }).summary;
  assert.match(point, /: value 40.2 is inside its normal range \(25 to 67\); its course over the last points is unlike/);
});

test('an event window without requests leads with the silence', () => {
  const silent = evidenceExplanation(detection('events', [latency(2400)], [0]), { service: 'chat' }).summary;
  assert.equal(silent, 'Unusual behaviour on service=chat: no requests in this window (expected ~30)');
});

test('with no attributed feature and no rule, the lead names the detectors past their boundary, not a bare score', () => {
  const d = Object.assign(detection('events', []), { detectors: { knn: 11.25, robust_z: 0.4, ewma: 1.6 } });
  assert.equal(
    evidenceExplanation(d, { service: 'svc' }).summary,
    "Unusual behaviour on service=svc: no single feature is outside its normal range; the window as a whole is unlike this series' normal ones (past their boundary of 1: knn 11.25, ewma 1.6)",
  );
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Attribution } from '../../src/domain/types';
import { typeFor } from '../../src/pipeline/ensemble';

const moved = (feature: string, actual: number, lower: number, upper: number, z: number): Attribution => ({ feature, actual, expected: (lower + upper) / 2, lower, upper, z });

test('longer answers at the same request rate are an output blow-up, whatever moved furthest (QA: typed traffic or latency, 0 of 12)', () => {
  const sum = moved('output_tokens_sum', 180_000, 40_000, 70_000, 14);
  const latency = moved('latency_p50_ms', 9_000, 2_000, 4_000, 9);
  const perRequest = moved('output_tokens_mean', 640, 150, 260, 8);
  assert.equal(typeFor(undefined, [sum, latency, perRequest]), 'output_blowup');
  assert.equal(typeFor(undefined, [latency, perRequest]), 'output_blowup');
  // More requests is traffic, even if each also answers longer.
  assert.equal(typeFor(undefined, [sum, perRequest, moved('request_count', 900, 200, 320, 12)]), 'traffic_spike');
  // Answers within their band: the sums moved because of something else.
  assert.equal(typeFor(undefined, [sum, moved('output_tokens_mean', 240, 150, 260, 1.5)]), 'traffic_spike');
  // Errors lead: not about answers.
  assert.equal(typeFor(undefined, [moved('error_rate', 0.3, 0, 0.02, 20), perRequest]), 'error_rate');
});

test('a latency drop is not a latency spike: typed other (the evidence says down)', () => {
  assert.equal(typeFor(undefined, [moved('latency_p95_ms', 300, 900, 1_400, -15)]), 'other');
  assert.equal(typeFor(undefined, [moved('ttft_p95_ms', 20, 100, 200, -8), moved('output_tokens_mean', 640, 150, 260, 8)]), 'other');
  assert.equal(typeFor(undefined, [moved('latency_p95_ms', 3_000, 900, 1_400, 15)]), 'latency_spike');
});

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { GenAiMetricsMapper, OPERATION_DURATION_METRIC, TIME_TO_FIRST_CHUNK_METRIC, TOKEN_USAGE_METRIC } from '../../src/otlp/metrics-mapping';
import { TEMPORALITY_CUMULATIVE, TEMPORALITY_DELTA, type OtlpHistogramPoint } from '../../src/otlp/model';

const T = Date.UTC(2026, 0, 5, 10, 0, 0);

function point(over: Partial<OtlpHistogramPoint>): OtlpHistogramPoint {
  return {
    metric: TOKEN_USAGE_METRIC,
    unit: '{token}',
    temporality: TEMPORALITY_CUMULATIVE,
    resource: { 'service.name': 'svc' },
    attributes: { 'gen_ai.request.model': 'gpt-4o', 'gen_ai.token.type': 'input', 'gen_ai.operation.name': 'chat' },
    startMs: T,
    timeMs: T + 60_000,
    count: 0,
    sum: 0,
    ...over,
  };
}

describe('GenAI metrics -> points', () => {
  test('cumulative histograms become the mean of what was added since the previous export', () => {
    const m = new GenAiMetricsMapper();
    let r = m.map([point({ count: 4, sum: 400 })]);
    assert.deepEqual(r.points.map((p) => [p.point.series, p.point.labels, p.point.timestamp, p.point.value]), [
      [TOKEN_USAGE_METRIC, { service: 'svc', model: 'gpt-4o', token_type: 'input' }, T + 60_000, 100],
    ]);
    r = m.map([point({ count: 6, sum: 1400, timeMs: T + 120_000 })]);
    assert.deepEqual(r.points.map((p) => p.point.value), [500]);
    // Nothing new: no point at all.
    r = m.map([point({ count: 6, sum: 1400, timeMs: T + 180_000 })]);
    assert.equal(r.points.length, 0);
  });

  test('a restarted producer (new start time, or a smaller count) counts from zero again', () => {
    const m = new GenAiMetricsMapper();
    m.map([point({ count: 10, sum: 1000 })]);
    let r = m.map([point({ count: 2, sum: 600, startMs: T + 200_000, timeMs: T + 260_000 })]);
    assert.deepEqual(r.points.map((p) => p.point.value), [300]);
    r = m.map([point({ count: 1, sum: 50, startMs: T + 200_000, timeMs: T + 320_000 })]);
    assert.deepEqual(r.points.map((p) => p.point.value), [50]);
  });

  test('delta histograms are used as they are; streams of one series and time are merged', () => {
    const m = new GenAiMetricsMapper();
    const r = m.map([
      point({ temporality: TEMPORALITY_DELTA, count: 2, sum: 100 }),
      point({ temporality: TEMPORALITY_DELTA, count: 2, sum: 300, attributes: { 'gen_ai.request.model': 'gpt-4o', 'gen_ai.token.type': 'input', 'gen_ai.operation.name': 'text_completion' } }),
      point({ temporality: TEMPORALITY_DELTA, count: 1, sum: 7, attributes: { 'gen_ai.request.model': 'gpt-4o', 'gen_ai.token.type': 'output' } }),
    ]);
    assert.deepEqual(
      r.points.map((p) => [p.point.labels.token_type, p.point.value, p.sources]),
      [
        ['input', 100, [0, 1]],
        ['output', 7, [2]],
      ],
    );
  });

  test('duration has no token_type; other metrics are ignored; bad points are reported', () => {
    const m = new GenAiMetricsMapper();
    const r = m.map([
      point({ metric: OPERATION_DURATION_METRIC, unit: 's', count: 2, sum: 3, attributes: { 'gen_ai.response.model': 'm-2' } }),
      point({ metric: 'http.client.request.duration', count: 5, sum: 5 }),
      point({ count: 3, sum: undefined }),
      point({ count: 3, sum: 3, temporality: 0, attributes: { 'gen_ai.request.model': 'z' } }),
    ]);
    assert.deepEqual(r.points.map((p) => [p.point.series, p.point.labels, p.point.value]), [[OPERATION_DURATION_METRIC, { service: 'svc', model: 'm-2' }, 1.5]]);
    assert.deepEqual(r.invalid.map((x) => x.index), [2, 3]);
  });

  test('time to first chunk of streamed calls is mapped like the duration (QA: ignored)', () => {
    const m = new GenAiMetricsMapper();
    const r = m.map([point({ metric: TIME_TO_FIRST_CHUNK_METRIC, unit: 's', count: 4, sum: 1.2 })]);
    assert.deepEqual(r.points.map((p) => [p.point.series, p.point.labels, p.point.value]), [[TIME_TO_FIRST_CHUNK_METRIC, { service: 'svc', model: 'gpt-4o' }, 0.3]]);
  });

  test('negative sums, and cumulative sums that go down while the count goes up, are refused with why', () => {
    const m = new GenAiMetricsMapper();
    let r = m.map([point({ temporality: TEMPORALITY_DELTA, count: 2, sum: -100 }), point({ count: 4, sum: 400 })]);
    assert.deepEqual(r.invalid, [{ index: 0, message: `${TOKEN_USAGE_METRIC}: sum -100 (tokens and durations cannot be negative)` }]);
    assert.deepEqual(r.points.map((p) => p.point.value), [100]);
    r = m.map([point({ count: 6, sum: 300, timeMs: T + 120_000 })]);
    assert.equal(r.points.length, 0);
    assert.match(r.invalid[0]?.message ?? '', /went down/);
    // The stream goes on from what it reported last.
    r = m.map([point({ count: 7, sum: 500, timeMs: T + 180_000 })]);
    assert.deepEqual(r.points.map((p) => p.point.value), [200]);
  });

  test('replicas of one service: one cumulative state each, one series, points moved past the last accepted one (QA)', () => {
    const m = new GenAiMetricsMapper();
    const pod = (id: string, timeMs: number, count: number, sum: number) =>
      point({ metric: OPERATION_DURATION_METRIC, unit: 's', resource: { 'service.name': 'svc', 'service.instance.id': id }, attributes: { 'gen_ai.request.model': 'gpt-4o' }, timeMs, count, sum });
    const take = (h: OtlpHistogramPoint) => {
      const r = m.map([h]);
      m.accepted(r.points.map((p) => p.point));
      return r.points.map((p) => [p.point.labels, p.point.timestamp, p.point.value]);
    };
    const labels = { service: 'svc', model: 'gpt-4o' };
    // Pod B exports 0.5 s before pod A each time, but its request arrives after A's.
    assert.deepEqual(take(pod('a', T + 60_000, 10, 12)), [[labels, T + 60_000, 1.2]]);
    assert.deepEqual(take(pod('b', T + 59_500, 8, 9)), [[labels, T + 60_001, 1.125]]);
    assert.deepEqual(take(pod('a', T + 120_000, 20, 25)), [[labels, T + 120_000, 1.3]]);
    assert.deepEqual(take(pod('b', T + 119_500, 16, 18)), [[labels, T + 120_001, 1.125]]);
    // Within one request (a collector's batch), in time order and strictly increasing too.
    const r = m.map([pod('a', T + 180_000, 30, 37), pod('b', T + 180_000, 24, 26), pod('c', T + 170_000, 1, 2)]);
    assert.deepEqual(r.points.map((p) => [p.point.timestamp, p.point.value, p.sources]), [[T + 170_000, 2, [2]], [T + 180_000, 20 / 18, [0, 1]]]);
  });

  test('a point refused by the pipeline (too far in the future) does not move the next ones after it', () => {
    const m = new GenAiMetricsMapper();
    m.map([point({ count: 1, sum: 10, timeMs: T + 36_000_000 })]); // refused: not passed to accepted()
    const r = m.map([point({ count: 2, sum: 30, timeMs: T + 3_700_000, resource: { 'service.name': 'svc', 'service.instance.id': 'b' } })]);
    assert.deepEqual(r.points.map((p) => p.point.timestamp), [T + 3_700_000]);
    m.accepted(r.points.map((p) => p.point));
    const again = m.map([point({ count: 3, sum: 30, timeMs: T + 3_650_000, resource: { 'service.name': 'svc', 'service.instance.id': 'c' } })]);
    assert.deepEqual(again.points.map((p) => p.point.timestamp), [T + 3_700_001]);
  });

  test('a retried or out-of-order export of a cumulative stream adds nothing (not a restart counted again)', () => {
    const m = new GenAiMetricsMapper();
    m.map([point({ count: 4, sum: 400 })]);
    m.map([point({ count: 6, sum: 1400, timeMs: T + 120_000 })]);
    // The export of T + 60 s again (its first attempt timed out after it was taken): nothing new.
    assert.equal(m.map([point({ count: 4, sum: 400 })]).points.length, 0);
    assert.deepEqual(m.map([point({ count: 7, sum: 1500, timeMs: T + 180_000 })]).points.map((p) => p.point.value), [100]);
  });

  test('stream state is bounded', () => {
    const m = new GenAiMetricsMapper(3);
    for (let i = 0; i < 10; i++) m.map([point({ count: 1, sum: 1, attributes: { 'gen_ai.request.model': `m${i}` } })]);
    assert.equal(m.streamCount, 3);
  });
});

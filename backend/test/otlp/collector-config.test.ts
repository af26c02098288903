/**
 * The shipped OpenTelemetry Collector configuration (provisioning/otel/collector.yaml) must send traces and
 * metrics to the paths the receiver serves, over HTTP/protobuf, from pipelines whose components exist.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { OTLP_PATHS } from '../../src/otlp';

interface CollectorConfig {
  receivers: Record<string, { protocols: Record<string, { endpoint: string }> }>;
  processors: Record<string, unknown>;
  exporters: Record<string, { endpoint?: string; encoding?: string; compression?: string; headers?: Record<string, string> }>;
  service: { pipelines: Record<string, { receivers: string[]; processors: string[]; exporters: string[] }> };
}

const config = parse(readFileSync(new URL('../../../provisioning/otel/collector.yaml', import.meta.url), 'utf8')) as CollectorConfig;

test('collector pipelines for traces and metrics end in the Sentinel otlphttp exporter and use defined components', () => {
  assert.deepEqual(Object.keys(config.service.pipelines).sort(), ['metrics', 'traces']);
  for (const [name, p] of Object.entries(config.service.pipelines)) {
    for (const r of p.receivers) assert.ok(config.receivers[r], `${name}: receiver ${r} is not defined`);
    for (const x of p.processors) assert.ok(x in config.processors, `${name}: processor ${x} is not defined`);
    for (const e of p.exporters) assert.ok(config.exporters[e], `${name}: exporter ${e} is not defined`);
    assert.ok(p.exporters.includes('otlphttp/sentinel'), `${name} does not export to Sentinel`);
    // memory_limiter must come first to protect everything after it.
    assert.equal(p.processors[0], 'memory_limiter');
  }
});

test('the Sentinel exporter speaks OTLP/HTTP protobuf with gzip to the receiver paths, with the API key header', () => {
  const e = config.exporters['otlphttp/sentinel'];
  const base = new URL(e.endpoint!);
  assert.equal(base.protocol, 'http:');
  assert.equal(base.port, '8080');
  // otlphttp appends the signal path to the endpoint.
  assert.equal(new URL(`${e.endpoint}/v1/traces`).pathname, OTLP_PATHS.traces);
  assert.equal(new URL(`${e.endpoint}/v1/metrics`).pathname, OTLP_PATHS.metrics);
  assert.equal(e.encoding, 'proto');
  assert.equal(e.compression, 'gzip');
  assert.match(e.headers?.authorization ?? '', /^Bearer \$\{env:SENTINEL_API_KEY\}$/);
});

test('receivers listen on all interfaces of the container, on the ports compose publishes', () => {
  const p = config.receivers.otlp.protocols;
  assert.equal(p.grpc.endpoint, '0.0.0.0:4317');
  assert.equal(p.http.endpoint, '0.0.0.0:4318');
});

import { describe, expect, it } from '@jest/globals';
import type { PanelData } from '@grafana/data';

import { resolveSentinelApi, sentinelDatasourceRef } from './sentinel-api-resolver';

const data = (refs: Array<{ uid?: string; type?: string } | undefined>) =>
  ({ request: { targets: refs.map((datasource, i) => ({ refId: String(i), datasource })) } }) as unknown as PanelData;

const sentinelLike = { type: 'llmsentinel-sentinel-datasource', getAnomaly: async () => ({}), postFeedback: async () => ({}) };

describe('sentinelDatasourceRef', () => {
  it('prefers a Sentinel-typed target and skips Grafana built-ins', () => {
    expect(
      sentinelDatasourceRef(data([{ uid: '-- Mixed --', type: 'datasource' }, { uid: 'p', type: 'prometheus' }, { uid: 's', type: 'llmsentinel-sentinel-datasource' }]))
    ).toEqual({ uid: 's', type: 'llmsentinel-sentinel-datasource' });
    expect(sentinelDatasourceRef(data([{ uid: 'x' }]))).toEqual({ uid: 'x' });
    expect(sentinelDatasourceRef(data([undefined]))).toBeUndefined();
  });

  it('falls back to the datasource stamped on Sentinel frames', () => {
    const withFrames = {
      request: { targets: [{ refId: 'A' }] },
      series: [{ fields: [], length: 0, meta: { custom: { sentinelKind: 'scores', datasource: { uid: 's2', type: 'llmsentinel-sentinel-datasource' } } } }],
    } as unknown as PanelData;
    expect(sentinelDatasourceRef(withFrames)).toEqual({ uid: 's2', type: 'llmsentinel-sentinel-datasource' });
  });
});

describe('resolveSentinelApi', () => {
  it('returns the datasource when it offers the Sentinel API', async () => {
    const res = await resolveSentinelApi(data([{ uid: 's', type: 'llmsentinel-sentinel-datasource' }]), async () => sentinelLike);
    expect(res.api).toBe(sentinelLike);
  });

  it('explains why there is no API', async () => {
    expect((await resolveSentinelApi(data([]), async () => sentinelLike)).problem).toMatch(/No query datasource/);
    expect((await resolveSentinelApi(data([{ uid: 'p' }]), async () => ({ query() {} }))).problem).toMatch(/not LLM-Sentinel/);
    expect(
      (
        await resolveSentinelApi(data([{ uid: 'p' }]), async () => {
          throw new Error('Datasource p was not found');
        })
      ).problem
    ).toBe('Cannot load the datasource: Datasource p was not found');
  });
});

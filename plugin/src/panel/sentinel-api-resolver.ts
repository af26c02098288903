import type { DataSourceRef, PanelData } from '@grafana/data';
import { getDataSourceSrv } from '@grafana/runtime';
import { createContext } from 'react';

import type { SentinelFrameMeta } from '../shared/frame-kinds';
import { isSentinelApi, type SentinelApi } from '../shared/sentinel-api';

/** Plugin id of the datasource the panel talks to for explanations and feedback. */
export const SENTINEL_DATASOURCE_TYPE = 'llmsentinel-sentinel-datasource';

/** Looks a datasource instance up by reference (Grafana: getDataSourceSrv().get). */
export type DatasourceLookup = (ref: DataSourceRef) => Promise<unknown>;

/**
 * How the panel finds its datasource. Inside Grafana it is getDataSourceSrv; the browser test page
 * and unit tests provide their own through this context.
 */
export const DatasourceLookupContext = createContext<DatasourceLookup>((ref) => getDataSourceSrv().get(ref));

/**
 * The datasource reference of the panel's Sentinel queries: a target whose datasource is the Sentinel
 * type first, then the datasource the Sentinel frames were stamped with, then any target's datasource
 * that is not a Grafana built-in (mixed, dashboard), so mixed panels still find it.
 */
export function sentinelDatasourceRef(data: PanelData | undefined): DataSourceRef | undefined {
  const targets = data?.request?.targets ?? [];
  const refs = targets.map((t) => t.datasource).filter((r): r is DataSourceRef => Boolean(r && (r.uid || r.type)));
  const fromFrames = (data?.series ?? [])
    .map((f) => (f.meta?.custom as Partial<SentinelFrameMeta> | undefined)?.datasource)
    .find((r) => r?.uid);
  return (
    refs.find((r) => r.type === SENTINEL_DATASOURCE_TYPE) ??
    // Frames stamped by the Sentinel datasource beat a guess from an untyped reference.
    fromFrames ??
    refs.find((r) => !r.type || r.type !== 'datasource')
  );
}

/** Resolves the panel's datasource to a {@link SentinelApi}, or says why it cannot. */
export async function resolveSentinelApi(
  data: PanelData | undefined,
  lookup: DatasourceLookup
): Promise<{ api?: SentinelApi; problem?: string }> {
  const ref = sentinelDatasourceRef(data);
  if (!ref) {
    return { problem: 'No query datasource: add an LLM-Sentinel query to this panel for explanations and feedback.' };
  }
  try {
    const ds = await lookup(ref);
    return isSentinelApi(ds)
      ? { api: ds }
      : { problem: 'This panel\'s datasource is not LLM-Sentinel: explanations and feedback need it.' };
  } catch (err) {
    return { problem: `Cannot load the datasource: ${err instanceof Error ? err.message : String(err)}` };
  }
}

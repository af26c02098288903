import type { Config } from '../config';
import type { Logger } from '../logger';
import { QdrantStore } from './qdrant-store';
import { ResilientStore } from './resilient-store';
import { SqliteStore } from './sqlite-store';
import type { VectorStore } from './vector-store';

export type { VectorStore, StoreHealth } from './vector-store';
export type { ResilientStoreStats } from './resilient-store';

/**
 * Picks the store from the configuration: Qdrant when SENTINEL_QDRANT_URL is set (behind the resilient
 * wrapper, so an outage buffers writes instead of failing requests), otherwise the embedded SQLite +
 * sqlite-vec file under SENTINEL_DATA_DIR. Start-up waits (bounded) for Qdrant to come up and fails
 * with an error naming SENTINEL_QDRANT_URL if it never does.
 */
export async function createStore(config: Readonly<Config>, log: Logger): Promise<VectorStore> {
  if (config.qdrantUrl) {
    const qdrant = new QdrantStore({ url: config.qdrantUrl, apiKey: config.qdrantApiKey, log });
    const store = new ResilientStore(qdrant, { log });
    await store.init();
    log.info({ store: store.kind, anomalies: qdrant.anomaliesCollection }, 'store ready');
    return store;
  }
  const store: VectorStore = SqliteStore.inDataDir(config.dataDir);
  await store.init();
  log.info({ store: store.kind, dataDir: config.dataDir }, 'store ready');
  return store;
}

import type { Config } from '../config';
import type { Logger } from '../logger';
import { SqliteStore } from './sqlite-store';
import type { VectorStore } from './vector-store';

export type { VectorStore, StoreHealth } from './vector-store';

/**
 * Picks the store from the configuration: Qdrant when SENTINEL_QDRANT_URL is set, otherwise the embedded
 * SQLite + sqlite-vec file under SENTINEL_DATA_DIR.
 */
export async function createStore(config: Readonly<Config>, log: Logger): Promise<VectorStore> {
  const store: VectorStore = SqliteStore.inDataDir(config.dataDir);
  await store.init();
  log.info({ store: store.kind, dataDir: config.dataDir }, 'store ready');
  return store;
}

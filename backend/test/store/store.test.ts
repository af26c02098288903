import { after } from 'node:test';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../src/logger';
import { QdrantStore } from '../../src/store/qdrant-store';
import { SqliteStore } from '../../src/store/sqlite-store';
import { storeContract } from './contract';
import { QdrantEmulator } from './qdrant-emulator';
import { LoopbackQdrant } from './qdrant-loopback';

const log = createLogger('silent');

storeContract({
  name: 'sqlite',
  async create() {
    return SqliteStore.inDataDir(mkdtempSync(join(tmpdir(), 'sentinel-store-')));
  },
  async reopen(old) {
    const path = (old as SqliteStore).path;
    await old.close();
    return new SqliteStore(path);
  },
});

// The same contract over HTTP through the real SDK, against the in-memory emulation of Qdrant's REST API
// (no Qdrant server can run here; see qdrant-emulator.ts for what it does and does not prove).
let loopback: LoopbackQdrant | undefined;
storeContract({
  name: 'qdrant (loopback emulator)',
  async create() {
    loopback = await LoopbackQdrant.start(new QdrantEmulator().handle);
    return new QdrantStore({ url: loopback.url, timeoutMs: 5_000, log });
  },
  async reopen(old) {
    await old.close();
    return new QdrantStore({ url: loopback!.url, timeoutMs: 5_000, log });
  },
});
after(async () => loopback?.close());

// Against a real Qdrant (`docker compose up -d qdrant`, then SENTINEL_QDRANT_URL=http://127.0.0.1:6333),
// in fresh collections of a unique prefix, dropped afterwards.
const liveUrl = process.env.SENTINEL_QDRANT_URL;
if (liveUrl) {
  const prefix = `sentinel_test_${randomBytes(4).toString('hex')}`;
  const open = () => new QdrantStore({ url: liveUrl, apiKey: process.env.SENTINEL_QDRANT_API_KEY, collectionPrefix: prefix, startupTimeoutMs: 10_000, log });
  storeContract({
    name: `qdrant (live, ${prefix})`,
    async create() {
      return open();
    },
    async reopen(old) {
      await old.close();
      return open();
    },
  });
  after(async () => {
    const store = open();
    await store.dropCollections();
    await store.close();
  });
}

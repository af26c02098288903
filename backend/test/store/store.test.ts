import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../src/store/sqlite-store';
import { storeContract } from './contract';

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

/**
 * What the numbers were measured on, and the machine's own limits they are compared with (memcpy
 * bandwidth), plus the small statistics and memory helpers every scenario uses.
 */
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** The machine a run was measured on. */
export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  freeMemoryGiB: number;
  node: string;
  /** 1-minute load average at the start of the run (other processes share the cores). */
  loadAverage1m: number;
  platform: string;
}

export function machineInfo(): MachineInfo {
  const c = cpus();
  return {
    cpuModel: c[0]?.model ?? 'unknown',
    cores: c.length,
    memoryGiB: round(totalmem() / 2 ** 30, 1),
    freeMemoryGiB: round(freemem() / 2 ** 30, 1),
    node: process.version,
    loadAverage1m: round(loadavg()[0], 2),
    platform: `${process.platform}-${process.arch}`,
  };
}

/** Measured copy bandwidth, bytes copied per second (each byte is read once and written once). */
export interface Bandwidth {
  /** Buffer far larger than the caches: what a scan of data in RAM can reach. */
  dramBytesPerSec: number;
  /** 2 MiB buffer (about one series' 10k x 48-dim float32 patterns): what a cache-resident scan can reach. */
  cacheBytesPerSec: number;
}

/** memcpy bandwidth (TypedArray.set is a memmove of the whole buffer), best of several passes. */
export function memcpyBandwidth(dramBytes = 256 * 2 ** 20): Bandwidth {
  const measure = (bytes: number, minMs: number) => {
    const src = new Uint8Array(bytes).fill(1);
    const dst = new Uint8Array(bytes);
    let best = Infinity;
    const t0 = performance.now();
    while (performance.now() - t0 < minMs) {
      const t = performance.now();
      dst.set(src);
      best = Math.min(best, performance.now() - t);
    }
    return bytes / (best / 1000);
  };
  return { dramBytesPerSec: measure(dramBytes, 600), cacheBytesPerSec: measure(2 * 2 ** 20, 200) };
}

/** The explicit GC (exposed at run time, so the benchmark needs no node flag). */
export const gc: () => void = (() => {
  setFlagsFromString('--expose_gc');
  return runInNewContext('gc') as () => void;
})();

/** Heap used and RSS after a full collection. */
export function memorySnapshot(): { heapUsed: number; rss: number; external: number } {
  gc();
  gc();
  const m = process.memoryUsage();
  // `external` already includes `arrayBuffers` (typed arrays, Buffers): adding both counted them twice.
  return { heapUsed: m.heapUsed, rss: m.rss, external: m.external };
}

/** Percentile (nearest rank) of unsorted samples; 0 for none. */
export function percentile(samples: ArrayLike<number>, q: number): number {
  const n = samples.length;
  if (n === 0) return 0;
  const s = Float64Array.from(samples).sort();
  return s[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))];
}

export function round(x: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Lets pending I/O and timers run (between measured phases). */
export const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * CPU profile of one measured phase when SENTINEL_PERF_PROFILE names a directory: writes
 * `<dir>/<name>.cpuprofile` (open in Chrome DevTools or speedscope). No-op otherwise.
 */
export async function profilePhase<T>(name: string, phase: () => Promise<T>): Promise<T> {
  const dir = process.env.SENTINEL_PERF_PROFILE;
  if (!dir) return phase();
  const { Session } = await import('node:inspector/promises');
  const { mkdirSync, writeFileSync } = await import('node:fs');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  try {
    return await phase();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${dir}/${name.replace(/[^\w.-]+/g, '_')}.cpuprofile`, JSON.stringify(profile));
    session.disconnect();
  }
}

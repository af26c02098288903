/**
 * The latest value and normal band of every feature of every service/model, handed to the
 * sentinel_feature_value / sentinel_expected_value{,_lower,_upper} gauges when Prometheus scrapes.
 *
 * Setting 4 x 16 labelled gauges per scored window (prom-client hashes the labels on every set) cost
 * more than scoring the window; recording 64 numbers is nearly free, and a scrape only sets what changed
 * since the previous scrape of that gauge, so /metrics shows exactly what it showed before.
 */
export class BandExport {
  private readonly latest = new Map<string, { labels: { service: string; model: string; feature: string }[]; values: Float64Array }>();
  /** Keys changed since the last scrape, per gauge (0 value, 1 expected, 2 lower, 3 upper). */
  private readonly dirty = [new Set<string>(), new Set<string>(), new Set<string>(), new Set<string>()];
  /**
   * Label sets dropped since the last scrape, per gauge and service/model: the scrape removes them from the
   * gauge. Keyed, so a service that is never scraped keeps one entry per service/model, not one per dormancy.
   */
  private readonly dropped = [0, 1, 2, 3].map(() => new Map<string, { service: string; model: string; feature: string }[]>());

  /** Records the latest bands of a service/model: `values` is value, expected, lower, upper per feature. */
  record(service: string, model: string, featureNames: readonly string[], fill: (values: Float64Array) => void): void {
    const key = `${service}\u0000${model}`;
    let entry = this.latest.get(key);
    if (!entry || entry.labels.length !== featureNames.length) {
      entry = { labels: featureNames.map((feature) => ({ service, model, feature })), values: new Float64Array(4 * featureNames.length) };
      this.latest.set(key, entry);
    }
    fill(entry.values);
    for (const d of this.dirty) d.add(key);
  }

  /**
   * Drops the bands of a service/model whose series left memory (dormant), as its sentinel_anomaly_score
   * does: the next scrape of each gauge removes its label sets (recorded again if it comes back first, they
   * are removed, then set anew).
   */
  drop(service: string, model: string): void {
    const key = `${service}\u0000${model}`;
    const entry = this.latest.get(key);
    if (!entry) return;
    this.latest.delete(key);
    for (let which = 0; which < 4; which++) {
      this.dirty[which].delete(key);
      this.dropped[which].set(key, entry.labels);
    }
  }

  /**
   * Sets gauge `which` for every service/model changed since its last scrape, after removing the label sets
   * dropped since then, yielding to I/O now and then.
   */
  async fill(
    which: 0 | 1 | 2 | 3,
    set: (labels: { service: string; model: string; feature: string }, value: number) => void,
    remove: (labels: { service: string; model: string; feature: string }) => void = () => {},
  ): Promise<void> {
    const gone = [...this.dropped[which].values()];
    this.dropped[which].clear();
    for (const labels of gone) for (const l of labels) remove(l);
    const keys = [...this.dirty[which]];
    this.dirty[which].clear();
    for (let i = 0; i < keys.length; i++) {
      const entry = this.latest.get(keys[i]);
      if (!entry) continue;
      const f = entry.labels.length;
      for (let j = 0; j < f; j++) set(entry.labels[j], entry.values[which * f + j]);
      // A scrape after a burst of windows can set many thousands of label sets: keep HTTP responsive.
      if ((i & 1023) === 1023) await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
}

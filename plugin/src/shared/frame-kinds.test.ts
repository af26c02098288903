import { describe, expect, it } from '@jest/globals';

import { featureUnit } from './frame-kinds';

describe('featureUnit', () => {
  it('gives each backend feature the unit its values are in', () => {
    expect(featureUnit('latency_p95_ms')).toBe('ms');
    expect(featureUnit('ttft_p95_ms')).toBe('ms');
    expect(featureUnit('cost_usd')).toBe('currencyUSD');
    // Fractions of 1, shown as percentages.
    expect(featureUnit('error_rate')).toBe('percentunit');
    expect(featureUnit('cache_hit_rate')).toBe('percentunit');
    expect(featureUnit('top_key_token_share')).toBe('percentunit');
    // Output tokens per input token: 5.0 is five times as many, not "500%".
    expect(featureUnit('output_input_ratio')).toBeUndefined();
    expect(featureUnit('request_count')).toBeUndefined();
    expect(featureUnit('output_tokens_mean')).toBeUndefined();
    expect(featureUnit(undefined)).toBeUndefined();
  });
});

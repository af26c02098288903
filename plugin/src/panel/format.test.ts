import { describe, expect, it } from '@jest/globals';

import { formatAxisValue } from './format';

describe('formatAxisValue', () => {
  it('gives axis ticks the decimals they need instead of rounding to whole numbers', () => {
    expect([0, 0.2, 0.4, 0.6].map((v) => formatAxisValue(v))).toEqual(['0', '0.2', '0.4', '0.6']);
    expect([0, 0.25, 0.5].map((v) => formatAxisValue(v))).toEqual(['0', '0.25', '0.5']);
    expect([0.5, 1, 1.5].map((v) => formatAxisValue(v, 'currencyUSD'))).toEqual(['$0.5', '$1', '$1.5']);
    expect([0.125, 0.25].map((v) => formatAxisValue(v, 'percentunit'))).toEqual(['12.5%', '25%']);
  });

  it('counts decimals in the scaled unit', () => {
    expect([500, 1000, 1500].map((v) => formatAxisValue(v, 'ms'))).toEqual(['500 ms', '1 s', '1.5 s']);
  });
});

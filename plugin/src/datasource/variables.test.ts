import { describe, expect, it } from '@jest/globals';

import { seriesResponse } from '../../test/fixtures/api-responses';
import { metricFindValues, parseVariableQuery, seriesToMetricFindValues, VariableQueryError } from './variables';

const texts = (q: string) => seriesToMetricFindValues(seriesResponse.items, parseVariableQuery(q)).map((v) => v.text);

describe('parseVariableQuery', () => {
  it('parses the four forms, with or without parentheses and quotes', () => {
    expect(parseVariableQuery('services()')).toEqual({ kind: 'services' });
    expect(parseVariableQuery(' services ')).toEqual({ kind: 'services' });
    expect(parseVariableQuery('')).toEqual({ kind: 'services' });
    expect(parseVariableQuery('models(chat)')).toEqual({ kind: 'models', filter: 'chat' });
    expect(parseVariableQuery('series( "chat" )')).toEqual({ kind: 'series', filter: 'chat' });
    expect(parseVariableQuery('features(service=chat|model=gpt-4o)')).toEqual({
      kind: 'features',
      filter: 'service=chat|model=gpt-4o',
    });
    expect(parseVariableQuery('Models()')).toEqual({ kind: 'models' });
  });

  it('rejects anything else with a message naming the supported forms', () => {
    expect(() => parseVariableQuery('users()')).toThrow(VariableQueryError);
    expect(() => parseVariableQuery('services(chat')).toThrow(/services\(\), models\(<service>\)/);
  });
});

describe('seriesToMetricFindValues', () => {
  it('lists distinct services from series labels, sorted', () => {
    expect(texts('services()')).toEqual(['chat', 'search']);
  });

  it('lists models, optionally of one service', () => {
    expect(texts('models()')).toEqual(['gpt-4o', 'gpt-4o-mini']);
    expect(texts('models(search)')).toEqual(['gpt-4o-mini']);
  });

  it('lists series keys, optionally of one service', () => {
    expect(texts('series()')).toEqual([
      'cpu|host=a',
      'service=chat|model=gpt-4o',
      'service=chat|model=gpt-4o-mini',
      'service=search|model=gpt-4o-mini',
    ]);
    expect(texts('series(chat)')).toEqual(['service=chat|model=gpt-4o', 'service=chat|model=gpt-4o-mini']);
  });

  it('lists features of all series or of one', () => {
    expect(texts('features(service=search|model=gpt-4o-mini)')).toEqual(['output_tokens_mean', 'request_count']);
    expect(texts('features()')).toEqual(['error_rate', 'latency_p95_ms', 'output_tokens_mean', 'request_count', 'value']);
  });

  it('returns text and value pairs and nothing for an unknown filter', () => {
    expect(seriesToMetricFindValues(seriesResponse.items, { kind: 'services' })[0]).toEqual({ text: 'chat', value: 'chat' });
    expect(texts('models(nope)')).toEqual([]);
  });
});

describe('metricFindValues', () => {
  it('unites the values of several queries (a multi-value argument), distinct and sorted', () => {
    const values = metricFindValues(seriesResponse.items, [parseVariableQuery('models(search)'), parseVariableQuery('models(chat)')]);
    expect(values.map((v) => v.text)).toEqual(['gpt-4o', 'gpt-4o-mini']);
  });
});

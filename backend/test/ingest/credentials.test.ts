import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { CredentialScrubber, scrubPrincipal, scrubText } from '../../src/ingest/credentials';
import type { LlmEvent } from '../../src/domain/types';
import { AZURE_KEY, GITHUB_TOKEN, JWT, OPENAI_KEY } from '../credential-samples';

const fp = (s: string) => 'sha256:' + createHash('sha256').update(s).digest('hex').slice(0, 12);

const OPENAI = OPENAI_KEY;
const ANTHROPIC = 'sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789';
const AZURE = AZURE_KEY;
const GITHUB = GITHUB_TOKEN;
const AWS = 'AKIAIOSFODNN7EXAMPLE';
const GOOGLE = 'AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q';

describe('principal fields (user, apiKeyId)', () => {
  test('ordinary ids are kept as sent', () => {
    for (const v of ['key-123', 'user-42', 'team-a/prod-key-7', 'alice.smith@example.com', 'c0a8012e-7d4b-4f8e-9a61-3b2c1d0e9f87', 'Basic Tier', 'Bearer Smith', 'auth0|5f7c8ec7c33c6c004bbafe82', 'customer_00012345', 'sha256:0123456789ab']) {
      assert.equal(scrubPrincipal(v), v, v);
    }
  });

  test('credential-shaped values become the fingerprint of the credential', () => {
    for (const v of [OPENAI, ANTHROPIC, JWT, AZURE, GITHUB, AWS, GOOGLE, 'xoxb-1234567890-abcdefghij']) assert.equal(scrubPrincipal(v), fp(v), v);
  });

  test('an Authorization-style value is the principal of its token: "Bearer X", "bearer X" and "X" are one', () => {
    assert.equal(scrubPrincipal(`Bearer ${OPENAI}`), fp(OPENAI));
    assert.equal(scrubPrincipal(`bearer ${JWT}`), fp(JWT));
    assert.equal(scrubPrincipal(`Basic ${Buffer.from('svc:hunter2-password').toString('base64')}`), fp(Buffer.from('svc:hunter2-password').toString('base64')));
    assert.equal(scrubPrincipal(`api_key=${OPENAI}`), fp(OPENAI));
  });

  test('fingerprinting is idempotent (a replay of scrubbed data, a restored point)', () => {
    for (const v of [OPENAI, `Bearer ${JWT}`, AZURE]) assert.equal(scrubPrincipal(scrubPrincipal(v)), scrubPrincipal(v));
  });
});

describe('other text fields', () => {
  test('credentials inside the text are fingerprinted, the text around them kept', () => {
    assert.equal(scrubText(`/v1/chat?api_key=${OPENAI}`), `/v1/chat?api_key=${fp(OPENAI)}`);
    assert.equal(scrubText(`AuthenticationError: Incorrect API key provided: ${OPENAI}`), `AuthenticationError: Incorrect API key provided: ${fp(OPENAI)}`);
    assert.equal(scrubText(`Bearer ${JWT}`), `Bearer ${fp(JWT)}`);
    assert.equal(scrubText('amqp://svc:s3cret-pass@broker:5672'), `amqp://${fp('svc:s3cret-pass')}@broker:5672`);
  });

  test('ordinary label values are kept, long digests included (a commit hash is not a key there)', () => {
    for (const v of ['chat', 'gpt-4o-2024-08-06', 'us-east-1', '3f2a9c1e0b8d7f6a5e4d3c2b1a09f8e7d6c5b4a3', 'RateLimitError', 'token_type=input', AZURE]) assert.equal(scrubText(v), v, v);
  });
});

describe('CredentialScrubber', () => {
  const e = (over: Partial<LlmEvent>): LlmEvent => ({ timestamp: 1.8e12, service: 'chat', model: 'gpt-4o', inputTokens: 1, outputTokens: 1, status: 'ok', costUsd: 0, ...over });

  test('returns clean records (and batches) as they are, copies the others', () => {
    const s = new CredentialScrubber();
    const clean = [e({ apiKeyId: 'key-1', user: 'u-1' }), e({})];
    assert.equal(s.events(clean), clean, 'same array');
    const dirty = e({ apiKeyId: OPENAI, route: `/x?token=${GITHUB}`, errorType: `401 ${JWT}`, securityEvents: ['jailbreak'] });
    const [out] = s.events([dirty]);
    assert.notEqual(out, dirty);
    assert.equal(dirty.apiKeyId, OPENAI, 'the input is not modified');
    assert.deepEqual(out, { ...dirty, apiKeyId: fp(OPENAI), route: `/x?token=${fp(GITHUB)}`, errorType: `401 ${fp(JWT)}` });
  });

  test('points: series name and label values', () => {
    const s = new CredentialScrubber();
    const p = { series: 'cpu', labels: { host: 'a' }, timestamp: 1.8e12, value: 1 };
    assert.equal(s.point(p), p);
    assert.deepEqual(s.point({ ...p, labels: { host: 'a', auth: `Bearer ${OPENAI}` } }).labels, { host: 'a', auth: `Bearer ${fp(OPENAI)}` });
  });
});

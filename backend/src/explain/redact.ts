import { createHash, createHmac, randomBytes } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';

/**
 * PII and secret redaction for everything that leaves the process (LLM prompts, alert payloads).
 *
 * Pattern-based, so it errs on the side of redacting: a version string that looks like an IPv4 address
 * goes too. What it must never touch is what the receiver needs to read the evidence: ISO timestamps,
 * clock times, anomaly ids, series keys, plain numbers (the tests pin those down).
 */

/** What a redacted span is replaced with, by kind. */
export const REDACTED = {
  email: '[email]',
  secret: '[secret]',
  phone: '[phone]',
  ip: '[ip]',
} as const;

// Secrets first: a token may contain an "@" or digits that the later rules would only half-match.
const SECRET_PATTERNS: RegExp[] = [
  /\bsk-(?:proj-|ant-|live-|test-)?[A-Za-z0-9_-]{16,}/g, // OpenAI / Anthropic / Stripe style
  /\b(?:ghp|gho|ghu|ghs|ghr|github_pat)_[A-Za-z0-9_]{20,}/g, // GitHub
  /\bxox[abprs]-[A-Za-z0-9-]{10,}/g, // Slack
  /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g, // AWS access key id
  /\bAIza[0-9A-Za-z_-]{35}/g, // Google API key
  /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, // JWT
  /https:\/\/hooks\.slack\.com\/[^\s"'<>]+/g, // a Slack webhook URL is itself the secret
  // Long opaque tokens (letters and digits mixed, 40+ chars): hex digests and random keys. Tried only at the
  // start of a run of token characters: from every word boundary inside "a-a-a-..." the lookaheads scanned
  // to the end of the run, quadratic in its length (QA: seconds of a blocked event loop on a long label).
  /(?<![A-Za-z0-9_-])(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{40,}\b/g,
];
/** `Bearer <token>` / `Basic <creds>`: keep the scheme word so the text still reads. */
const AUTH_SCHEME = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/-]{8,}=*/g;
/** `api_key=...`, `"token": "..."`, `password: ...`: keep the name, drop the value. */
const KEY_VALUE =
  /\b(api[_-]?key|apikey|access[_-]?key|secret(?:[_-]?key)?|client[_-]?secret|token|auth[_-]?token|password|passwd|pwd)(["']?\s*[:=]\s*["']?)([^\s"',;&}]+)/gi;
/** URL userinfo (`amqp://user:pass@host`). */
const URL_CREDENTIALS = /(?<![a-z0-9+.-])([a-z][a-z0-9+.-]*:\/\/)[^\s/@:]+:[^\s/@]+@/gi;
// Local part: RFC 5322 atext except "=", "|", "{" and "}", which in our texts separate labels
// ("user=alice@x.io" keeps its "user="), at most 64 characters (RFC 5321): unbounded, every position of a
// long run of such characters without an "@" scanned to its end (quadratic; QA: a 64k-character label name
// held the event loop for 20 s per alert).
const EMAIL = /[A-Za-z0-9.!#$%&'*+/?^_`~-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g;
// Candidates only: every match is confirmed by node:net, so clock times like 10:01:00 never go.
const IPV6_CANDIDATE = /(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,8}(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{1,4})?(?:%[\w.]+)?(?![\w:]|\.\d)/g;
const IPV4 = /(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)/g;
// Phone numbers need a "+" or the 3-3-4 grouping with separators, and 8-15 digits in all, so ISO dates,
// epoch milliseconds and thousands separators ("6,256") are left alone.
const PHONE_INTERNATIONAL = /(?<![\w+])\+\d{1,3}(?:[\s.-]?\(?\d{1,4}\)?){2,5}(?![\w])/g;
const PHONE_GROUPED = /(?<![\w.-])\(?\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}(?![\w]|[.-]\d)/g;

const digitCount = (s: string) => s.replace(/\D/g, '').length;

/**
 * Redacts credentials only (URL userinfo, `Bearer` / `Basic` values, `key=value` secrets, known key and
 * token shapes): what log lines need, where addresses and names help debugging.
 */
export function redactSecrets(text: string): string {
  return replaceCredentials(text, SECRET_PATTERNS, () => REDACTED.secret);
}

/**
 * Replaces each credential span of `text` by `replace(credential)`, keeping what names it (`scheme://` and
 * `@`, `Bearer `, `api_key=`); `patterns` are the bare key and token shapes to replace whole. A `key=value`
 * whose value an earlier step already replaced (or is only the `Bearer` word left of one) is kept.
 */
function replaceCredentials(text: string, patterns: readonly RegExp[], replace: (credential: string) => string): string {
  let s = text;
  s = s.replace(URL_CREDENTIALS, (m, scheme: string) => `${scheme}${replace(m.slice(scheme.length, -1))}@`);
  s = s.replace(AUTH_SCHEME, (m, scheme: string) => `${scheme} ${replace(m.slice(scheme.length).trim())}`);
  s = s.replace(KEY_VALUE, (m, name: string, sep: string, value: string) => (REPLACED.test(value) ? m : `${name}${sep}${replace(value)}`));
  for (const p of patterns) s = s.replace(p, (m) => replace(m));
  return s;
}

/** A `key=value` value that is already a replacement (either kind), or the scheme word of one. */
const REPLACED = /^(?:sha256:[0-9a-f]{12}|\[secret\]|Bearer|Basic)$/i;

/**
 * The handle that stands for a credential found in telemetry: `sha256:` and the first 12 hex digits of its
 * SHA-256. Unsalted on purpose: the same key gives the same handle in every process, across restarts and on
 * every instance (series keys, saved state and patterns depend on it), and an operator can compute it for a
 * key they hold (`printf %s "$KEY" | sha256sum | cut -c1-12`). Only credential-shaped (high-entropy) values
 * get it, so the hash cannot be reversed by guessing candidates.
 */
export function credentialFingerprint(secret: string): string {
  return 'sha256:' + createHash('sha256').update(secret).digest('hex').slice(0, 12);
}

/**
 * Replaces every credential inside `text` by its {@link credentialFingerprint}, keeping what names it
 * (`Bearer `, `api_key=`, `scheme://...@`): the spans {@link redactSecrets} removes, except long opaque
 * tokens, which in a label value are as often a commit hash or a digest as a key (principal fields check
 * those on their own, see ingest/credentials.ts). The text is returned unchanged (same string) when it
 * holds none.
 */
export function fingerprintCredentials(text: string): string {
  const s = replaceCredentials(text, CREDENTIAL_PATTERNS, credentialFingerprint);
  return s === text ? text : s;
}

/** The specific key and token shapes of SECRET_PATTERNS (all but the last, generic one). */
const CREDENTIAL_PATTERNS = SECRET_PATTERNS.slice(0, -1);

/** Redacts emails, API keys and tokens, phone numbers and IPv4/IPv6 addresses in one string. */
export function redactText(text: string): string {
  let s = redactSecrets(text);
  s = s.replace(EMAIL, REDACTED.email);
  s = s.replace(IPV6_CANDIDATE, (m) => (isIPv6(m.split('%')[0]) ? REDACTED.ip : m));
  s = s.replace(IPV4, (m) => (isIPv4(m) ? REDACTED.ip : m));
  s = s.replace(PHONE_INTERNATIONAL, (m) => {
    const n = digitCount(m);
    return n >= 8 && n <= 15 ? REDACTED.phone : m;
  });
  s = s.replace(PHONE_GROUPED, REDACTED.phone);
  return s;
}

/**
 * Redacts every string (and object key) inside a JSON-like value; numbers, booleans and null pass
 * through. Returns a new value; the input is not modified.
 */
export function redactDeep<T>(value: T): T {
  return walk(value) as T;
}

function walk(v: unknown): unknown {
  if (typeof v === 'string') return redactText(v);
  if (Array.isArray(v)) return v.map(walk);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[redactText(k)] = walk(x);
    return out;
  }
  return v;
}

/**
 * A stable, non-reversible handle for an identifier (user id, API key id): `kind#<12 hex>`. With a
 * `salt` it is an HMAC, so a guessable id (an email) cannot be confirmed by hashing candidates.
 */
export function fingerprint(kind: string, value: string, salt?: string | Buffer): string {
  const h = salt ? createHmac('sha256', salt).update(value) : createHash('sha256').update(value);
  return `${kind}#${h.digest('hex').slice(0, 12)}`;
}

/** A random salt for one process: prompts need ids that are consistent within a run, not across runs. */
export function processSalt(): Buffer {
  return randomBytes(32);
}

import type { LlmEvent, SecurityEvent, SeriesPoint } from '../domain/types';
import { credentialFingerprint, fingerprintCredentials } from '../explain/redact';

/**
 * Credentials that clients put into telemetry by mistake (the real `sk-...` key in `apiKeyId`, a JWT or an
 * `Authorization` header value in `user`, a key in a point label or an OTLP attribute mapped to one) are
 * replaced at ingest by a stable fingerprint, `sha256:<first 12 hex>` (credentialFingerprint), before they
 * reach windows, series keys, anomaly records, the API, metrics, logs or saved state. The same credential
 * always gives the same fingerprint, so per-key series, culprits and grouping work as before; ordinary ids
 * (`key-123`, `user-42`, an email, a UUID) are left as they are.
 *
 * - The principal fields (`user`, `apiKeyId`) take the whole value: one that holds a known key or token
 *   shape, an `Authorization`-style value (`Bearer <token>`, `Basic <creds>`: fingerprinted by the token,
 *   so "Bearer X" and "X" are one principal), or is itself a long opaque token (32+ characters of letters
 *   and digits, e.g. a 32-hex Azure OpenAI key; UUIDs excepted) becomes the fingerprint of that credential.
 * - Every other text field (service, model, provider, route, errorType, security event types, point series
 *   names and label values) keeps its text, with each credential inside it replaced by its fingerprint
 *   (`route=/v1/chat?api_key=sha256:...`). Long opaque tokens stay there: in a label they are as often a
 *   commit hash or a digest.
 *
 * See docs/API.md, "Credentials in telemetry".
 */

/** Shorter values are never credentials (the shortest shape found is `Bearer ` and 8 characters). */
const MIN_LENGTH = 12;
/** Text fields of events and security verdicts (not the principals). */
const TEXT_FIELDS = ['service', 'model', 'provider', 'route', 'errorType', 'type'] as const;
/** Bound of the memo of values already checked (cleared when full). */
const MEMO_MAX = 50_000;

/** `Bearer <token>` / `Basic <creds>` as a whole value, any case. */
const AUTH_VALUE = /^\s*(?:bearer|basic)\s+(\S{8,})\s*$/i;
/** A bare opaque token: 32+ characters of token alphabet (base64 padding at most at its end), a letter and a digit among them. */
const OPAQUE = /^(?=[^\d]*\d)(?=[^A-Za-z]*[A-Za-z])[A-Za-z0-9_\-+/.~]{32,}={0,2}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The value a principal field (`user`, `apiKeyId`) is kept as. */
export function scrubPrincipal(v: string): string {
  if (v.length < MIN_LENGTH) return v;
  const auth = AUTH_VALUE.exec(v);
  const token = auth ? auth[1] : v.trim();
  if (auth || (OPAQUE.test(token) && !UUID.test(token))) return credentialFingerprint(token);
  // A value holding a known key shape (or `api_key=...`) somewhere is that credential's principal.
  const scrubbed = fingerprintCredentials(v);
  if (scrubbed === v) return v;
  const only = /sha256:[0-9a-f]{12}/.exec(scrubbed);
  return only && scrubbed.match(/sha256:[0-9a-f]{12}/g)!.length === 1 ? only[0] : credentialFingerprint(v);
}

/** The value any other text field is kept as: credentials inside it fingerprinted, the rest as sent. */
export function scrubText(v: string): string {
  return v.length < MIN_LENGTH ? v : fingerprintCredentials(v);
}

/**
 * Applies {@link scrubPrincipal} / {@link scrubText} to ingested records, memoising by value (the same few
 * label values repeat in every event). Records with nothing to change are returned as they are; the others
 * are copied.
 */
export class CredentialScrubber {
  private readonly principals = new Map<string, string>();
  private readonly texts = new Map<string, string>();

  // A memo lookup is several times cheaper than the patterns, and ingest checks several fields per event.
  principal(v: string): string {
    return v.length < MIN_LENGTH ? v : memo(this.principals, v, scrubPrincipal);
  }

  text(v: string): string {
    return v.length < MIN_LENGTH ? v : memo(this.texts, v, scrubText);
  }

  event<T extends LlmEvent | SecurityEvent>(e: T): T {
    const x = e as Partial<LlmEvent & SecurityEvent>;
    // The usual case, without allocating: every field already clean.
    let clean = (x.user === undefined || this.principal(x.user) === x.user) && (x.apiKeyId === undefined || this.principal(x.apiKeyId) === x.apiKeyId);
    for (let i = 0; clean && i < TEXT_FIELDS.length; i++) {
      const v = x[TEXT_FIELDS[i]];
      clean = v === undefined || this.text(v) === v;
    }
    if (clean && x.securityEvents !== undefined) for (const t of x.securityEvents) clean &&= this.text(t) === t;
    if (clean) return e;
    const out = { ...x };
    if (x.user !== undefined) out.user = this.principal(x.user);
    if (x.apiKeyId !== undefined) out.apiKeyId = this.principal(x.apiKeyId);
    for (const k of TEXT_FIELDS) if (x[k] !== undefined) out[k] = this.text(x[k]);
    if (x.securityEvents !== undefined) out.securityEvents = x.securityEvents.map((t) => this.text(t));
    return out as T;
  }

  events<T extends LlmEvent | SecurityEvent>(events: readonly T[]): readonly T[] {
    let out: T[] | undefined;
    for (let i = 0; i < events.length; i++) {
      const e = this.event(events[i]);
      if (e !== events[i]) (out ??= events.slice())[i] = e;
    }
    return out ?? events;
  }

  point(p: SeriesPoint): SeriesPoint {
    const series = this.text(p.series);
    let labels: Record<string, string> | undefined;
    for (const k in p.labels) {
      const v = this.text(p.labels[k]);
      if (v !== p.labels[k]) (labels ??= { ...p.labels })[k] = v;
    }
    return series === p.series && !labels ? p : { ...p, series, labels: labels ?? p.labels };
  }

  points(points: readonly SeriesPoint[]): readonly SeriesPoint[] {
    let out: SeriesPoint[] | undefined;
    for (let i = 0; i < points.length; i++) {
      const p = this.point(points[i]);
      if (p !== points[i]) (out ??= points.slice())[i] = p;
    }
    return out ?? points;
  }
}

function memo(m: Map<string, string>, v: string, f: (v: string) => string): string {
  let r = m.get(v);
  if (r === undefined) {
    if (m.size >= MEMO_MAX) m.clear();
    r = f(v);
    m.set(v, r);
  }
  return r;
}

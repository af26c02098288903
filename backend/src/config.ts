import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError } from './errors';

/** Names a YAML configuration file (see {@link configFileValues}); the environment overrides what it sets. */
export const CONFIG_FILE_VARIABLE = 'SENTINEL_CONFIG';

/** Dimensions an event series key can be built from. */
export const KEY_DIMENSIONS = ['service', 'model', 'provider', 'user', 'apiKeyId', 'route'] as const;
export type KeyDimension = (typeof KEY_DIMENSIONS)[number];

/** One configured API key. Read-only keys may only call GET endpoints. */
export interface ApiKey {
  key: string;
  readOnly: boolean;
}

/** Validated, frozen service configuration. Read once at start by {@link loadConfig}. */
export interface Config {
  /** @default "127.0.0.1" (SENTINEL_HOST) */
  host: string;
  /** @default 8080 (SENTINEL_PORT; 0 picks a free port) */
  port: number;
  /** @default "./data" (SENTINEL_DATA_DIR) */
  dataDir: string;
  /** SENTINEL_API_KEYS: comma-separated; a `:ro` suffix marks a read-only key. Empty: no auth. */
  apiKeys: ApiKey[];
  /** Window length in ms. @default 60000 (SENTINEL_WINDOW, e.g. "1m", "30s", "5m") */
  windowMs: number;
  /** How long after a window's end late events are still accepted. @default 10000 (SENTINEL_LATENESS) */
  latenessMs: number;
  /** Dimensions of the event series key. @default ["service","model"] (SENTINEL_SERIES_KEY) */
  seriesKey: KeyDimension[];
  /** Upper bound on live series, event and plain together; more are rejected with reason series_limit. @default 10000 */
  maxSeries: number;
  /** Windows a series must see before it may alert. @default 20 (SENTINEL_WARMUP_WINDOWS) */
  warmupWindows: number;
  /** Detector sensitivity in (0, 1); higher finds more. @default 0.35 (SENTINEL_SENSITIVITY; NAB-measured, docs/BENCHMARKS.md step 9) */
  sensitivity: number;
  /**
   * Points a plain metric series that opened an incident opens no new one for; anomalous points in between
   * rejoin that incident (re-opening it if it had resolved); a point anomalous on its statistical point score
   * alone waits three times as long (see inHoldOff). @default 100 (SENTINEL_REALERT_POINTS; 0: off)
   */
  realertPoints: number;
  /**
   * A plain metric series that has sent no point for this many seconds (wall clock), or for 10 of its usual
   * point intervals when that is longer, is stale: an incident it has open resolves with resolution
   * `stale`, and its score leaves `sentinel_anomaly_score`. Prometheus forgets a target's series after 5
   * minutes the same way. @default 300 (SENTINEL_STALE_SECONDS; 0: never)
   */
  staleSeconds: number;
  /**
   * Every this many seconds the state of each series that changed (baselines, calibration, detector state,
   * hold-off, score timeline) is saved to series-state.db in the data directory, and on shutdown; it is
   * restored at start. @default 300 (SENTINEL_STATE_SAVE_SECONDS; 0: keep state in memory only)
   */
  stateSaveSeconds: number;
  /**
   * A series that has been dormant (quiet, its state on disk only; see docs/DETECTION.md) for this many days
   * is forgotten: its saved state and its patterns are deleted, and if it ever reports again it starts
   * afresh, with a warm-up. Its anomaly records stay. @default 30 (SENTINEL_DORMANT_RETENTION_DAYS; 0: never)
   */
  dormantRetentionDays: number;
  /**
   * Windows and points waiting to be scored (with queued series sweeps) past which ingest (POST /api/v1/events,
   * /api/v1/series, OTLP /v1/traces and /v1/metrics) is refused with 503 and Retry-After until scoring has
   * caught up; what was accepted is kept and scored. @default 5 x maxSeries, 50000 (SENTINEL_MAX_SCORING_QUEUE:
   * every series five windows behind; a window of every series closes at once, so the bound must be above that)
   */
  maxScoringQueue: number;
  /** Normal patterns kept per series (oldest pruned). @default 10000 (SENTINEL_MAX_PATTERNS) */
  maxPatternsPerSeries: number;
  /** Largest request body in bytes. @default 10485760 (SENTINEL_BODY_LIMIT) */
  bodyLimitBytes: number;
  /** Requests per second allowed per API key (or per client address without keys). @default 200 */
  rateLimitPerSec: number;
  qdrantUrl?: string;
  qdrantApiKey?: string;
  llmBaseUrl?: string;
  llmApiKey?: string;
  llmModel?: string;
  webhookUrls: string[];
  amqpUrl?: string;
  /** Per LLM call attempt. @default 20000 (SENTINEL_LLM_TIMEOUT, e.g. "20s") */
  llmTimeoutMs: number;
  /** LLM calls in flight at once. @default 2 (SENTINEL_LLM_CONCURRENCY) */
  llmConcurrency: number;
  /** How the JSON answer is requested; refused formats step down by themselves. @default "json_schema" (SENTINEL_LLM_RESPONSE_FORMAT) */
  llmResponseFormat: 'json_schema' | 'json_object' | 'none';
  /** HMAC-SHA256 key of the `X-Sentinel-Signature` header on webhook alerts. Unset: unsigned. (SENTINEL_WEBHOOK_SECRET) */
  webhookSecret?: string;
  /**
   * Hosts alert webhooks may reach even when they resolve to private, loopback or link-local addresses
   * (exact host names or IPs; `*.example.com` for subdomains). Public hosts need no entry. @default [] (SENTINEL_WEBHOOK_ALLOWLIST)
   */
  webhookAllowlist: string[];
  /** Slack incoming-webhook URL. (SENTINEL_SLACK_WEBHOOK_URL) */
  slackWebhookUrl?: string;
  /** PagerDuty Events v2 routing (integration) key. (SENTINEL_PAGERDUTY_ROUTING_KEY) */
  pagerdutyRoutingKey?: string;
  /** @default "https://events.pagerduty.com/v2/enqueue" (SENTINEL_PAGERDUTY_URL; EU: events.eu.pagerduty.com) */
  pagerdutyUrl: string;
  /** Durable topic exchange alerts are published to. @default "sentinel.alerts" (SENTINEL_AMQP_ALERT_EXCHANGE) */
  amqpAlertExchange: string;
  /** Queue of guard verdicts consumed when SENTINEL_AMQP_URL is set; "off" disables (undefined). @default "security.events" (SENTINEL_AMQP_SECURITY_QUEUE) */
  amqpSecurityQueue?: string;
  /** Delivery attempts per alert and sink before it is dead-lettered. @default 10 (SENTINEL_ALERT_MAX_ATTEMPTS) */
  alertMaxAttempts: number;
  /** First retry delay; doubles per attempt (full jitter), capped at 60 s. @default 1000 (SENTINEL_ALERT_RETRY_BASE) */
  alertRetryBaseMs: number;
  /** A series whose incident was alerted stays quiet this long unless severity rises. @default 300000 (SENTINEL_ALERT_COOLDOWN) */
  alertCooldownMs: number;
  /** Dead letters kept; beyond it the oldest are dropped (logged, counted). @default 10000 (SENTINEL_DEAD_LETTER_MAX) */
  deadLetterMax: number;
  /** Incidents below this severity send no alert. @default "low" (SENTINEL_ALERT_MIN_SEVERITY) */
  alertMinSeverity: 'critical' | 'high' | 'medium' | 'low';
  /** OTLP span / resource attributes naming the end user, first present wins. @default ["user.id","enduser.id"] (SENTINEL_OTEL_USER_ATTRIBUTES) */
  otelUserAttributes: string[];
  /** OTLP span / resource attributes naming the API key (semconv has none). @default [] (SENTINEL_OTEL_API_KEY_ATTRIBUTES) */
  otelApiKeyAttributes: string[];
  /** An agent trace with no new span for this long (wall clock) counts as complete. @default 30000 (SENTINEL_OTEL_TRACE_IDLE) */
  otelTraceIdleMs: number;
  /** Agent traces held open at once; beyond it the oldest completes early. @default 10000 (SENTINEL_OTEL_MAX_OPEN_TRACES) */
  otelMaxOpenTraces: number;
  /** pino level. @default "info" (SENTINEL_LOG_LEVEL) */
  logLevel: string;
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses "500ms", "30s", "1m", "2h" (or a bare number of ms). */
export function parseDuration(text: string): number | undefined {
  const t = text.trim();
  if (/^\d+$/.test(t)) return Number(t);
  const m = DURATION.exec(t);
  return m ? Math.round(Number(m[1]) * UNIT_MS[m[2]]) : undefined;
}

const duration = (min: number) =>
  z
    .string()
    .transform((s, ctx) => {
      const ms = parseDuration(s);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: `"${s}" is not a duration like 30s, 1m or 5m` });
        return z.NEVER;
      }
      return ms;
    })
    .pipe(z.number().min(min, `must be at least ${min} ms`));

/** A decimal integer: ' ', '0x10' and '1e3' are mistakes, not 0, 16 and 1000. */
const int = (min: number, max: number) =>
  z
    .string()
    .regex(/^\s*-?\d+\s*$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));
/** An http(s) URL: `localhost:6333` parses as a URL of scheme "localhost:" and failed only at first use. */
const url = z
  .string()
  .url()
  .refine((u) => /^https?:\/\//i.test(u), 'must start with http:// or https://');
const list = z
  .string()
  .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean));

/** Each variable, its parser and default. Names are a contract (ARCHITECTURE.md). */
const SCHEMA = {
  SENTINEL_HOST: z.string().min(1).default('127.0.0.1'),
  SENTINEL_PORT: int(0, 65535).default(8080),
  SENTINEL_DATA_DIR: z.string().min(1).default('./data'),
  // A value that holds no key (",", "  ") is a templating mistake, not a wish to turn authentication off: that
  // is what an unset (or empty) variable says.
  SENTINEL_API_KEYS: list.pipe(z.array(z.string()).min(1, 'no key in it (leave it unset to run without API keys)')).default([]),
  SENTINEL_WINDOW: duration(1000).default(60_000),
  SENTINEL_LATENESS: duration(0).default(10_000),
  SENTINEL_SERIES_KEY: list
    .pipe(
      z
        .array(z.enum(KEY_DIMENSIONS))
        .min(1)
        .refine((d) => new Set(d).size === d.length, 'a dimension is listed twice'),
    )
    .default(['service', 'model']),
  SENTINEL_MAX_SERIES: int(1, 10_000_000).default(10_000),
  SENTINEL_WARMUP_WINDOWS: int(1, 100_000).default(20),
  SENTINEL_SENSITIVITY: z.coerce.number().gt(0).lt(1).default(0.35),
  SENTINEL_REALERT_POINTS: int(0, 1_000_000).default(100),
  SENTINEL_STALE_SECONDS: int(0, 30 * 86_400).default(300),
  SENTINEL_STATE_SAVE_SECONDS: int(0, 86_400).default(300),
  SENTINEL_DORMANT_RETENTION_DAYS: int(0, 36_500).default(30),
  SENTINEL_MAX_SCORING_QUEUE: int(1, 100_000_000).optional(),
  SENTINEL_MAX_PATTERNS: int(10, 10_000_000).default(10_000),
  SENTINEL_BODY_LIMIT: int(1024, 1024 * 1024 * 1024).default(10 * 1024 * 1024),
  SENTINEL_RATE_LIMIT: int(1, 1_000_000).default(200),
  SENTINEL_QDRANT_URL: url.optional(),
  SENTINEL_QDRANT_API_KEY: z.string().min(1).optional(),
  SENTINEL_LLM_BASE_URL: url.optional(),
  SENTINEL_LLM_API_KEY: z.string().min(1).optional(),
  SENTINEL_LLM_MODEL: z.string().min(1).optional(),
  SENTINEL_WEBHOOK_URLS: list.pipe(z.array(url)).default([]),
  // Parsed too: amqplib refuses what the URL parser does (a port of 99999, '5672x', no host), and the sink and
  // the consumer then retried it forever while every alert was dead-lettered.
  SENTINEL_AMQP_URL: z
    .string()
    .regex(/^amqps?:\/\//, 'must be an amqp:// or amqps:// URL')
    .refine((u) => URL.canParse(u), 'is not a valid URL (check the host and port, and percent-encode special characters in the password)')
    .optional(),
  SENTINEL_LLM_TIMEOUT: duration(100).default(20_000),
  SENTINEL_LLM_CONCURRENCY: int(1, 64).default(2),
  SENTINEL_LLM_RESPONSE_FORMAT: z.enum(['json_schema', 'json_object', 'none']).default('json_schema'),
  SENTINEL_WEBHOOK_SECRET: z.string().min(16, 'use at least 16 characters').optional(),
  SENTINEL_WEBHOOK_ALLOWLIST: list.default([]),
  SENTINEL_SLACK_WEBHOOK_URL: url.optional(),
  SENTINEL_PAGERDUTY_ROUTING_KEY: z.string().min(1).optional(),
  SENTINEL_PAGERDUTY_URL: url.default('https://events.pagerduty.com/v2/enqueue'),
  SENTINEL_AMQP_ALERT_EXCHANGE: z.string().min(1).max(255).default('sentinel.alerts'),
  SENTINEL_AMQP_SECURITY_QUEUE: z.string().max(255).default('security.events').transform((q) => (q === 'off' ? undefined : q)),
  SENTINEL_ALERT_MAX_ATTEMPTS: int(1, 100).default(10),
  SENTINEL_ALERT_RETRY_BASE: duration(1).default(1000),
  SENTINEL_ALERT_COOLDOWN: duration(0).default(300_000),
  SENTINEL_DEAD_LETTER_MAX: int(100, 10_000_000).default(10_000),
  SENTINEL_ALERT_MIN_SEVERITY: z.enum(['critical', 'high', 'medium', 'low']).default('low'),
  SENTINEL_OTEL_USER_ATTRIBUTES: list.default(['user.id', 'enduser.id']),
  SENTINEL_OTEL_API_KEY_ATTRIBUTES: list.default([]),
  SENTINEL_OTEL_TRACE_IDLE: duration(100).default(30_000),
  SENTINEL_OTEL_MAX_OPEN_TRACES: int(1, 10_000_000).default(10_000),
  SENTINEL_LOG_LEVEL: z
    .string()
    .transform((s) => s.trim().toLowerCase())
    .pipe(z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']))
    .default('info'),
} as const;

/** Variables that only tune behaviour: a malformed value warns and falls back to the default. */
const OPTIONAL_TUNING = new Set([
  'SENTINEL_LOG_LEVEL',
  'SENTINEL_RATE_LIMIT',
  'SENTINEL_LLM_TIMEOUT',
  'SENTINEL_LLM_CONCURRENCY',
  'SENTINEL_ALERT_MAX_ATTEMPTS',
  'SENTINEL_ALERT_RETRY_BASE',
  'SENTINEL_ALERT_COOLDOWN',
  'SENTINEL_DEAD_LETTER_MAX',
]);

type Parsed = { [K in keyof typeof SCHEMA]: z.output<(typeof SCHEMA)[K]> };

/**
 * The settings of a YAML configuration file as variables: a mapping whose keys are the variable names
 * (`SENTINEL_WINDOW`) or the same without the prefix in any case (`window`, `api_keys`); values are
 * scalars, or lists for the comma-separated variables (`webhook_urls: [https://a, https://b]`). An unknown
 * key, a nested value or a file that is not such a mapping stops the start like a bad variable.
 */
export function configFileValues(file: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(CONFIG_FILE_VARIABLE, `cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : code ?? 'unreadable'}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    // yaml's messages quote the offending source line, which may hold a secret: position and code only.
    const e = err as Error & { code?: string; linePos?: { line: number; col: number }[] };
    const where = e.linePos?.[0] ? ` at line ${e.linePos[0].line}, column ${e.linePos[0].col}` : '';
    const what = e.code ? `YAML ${e.code}${where}` : (e as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ConfigError(CONFIG_FILE_VARIABLE, `cannot read ${file}: ${what}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(CONFIG_FILE_VARIABLE, `${file} must be a mapping of settings`);
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(doc)) {
    const name = key.toUpperCase().startsWith('SENTINEL_') ? key.toUpperCase() : `SENTINEL_${key.toUpperCase()}`;
    if (!(name in SCHEMA)) throw new ConfigError(CONFIG_FILE_VARIABLE, `${file}: unknown setting ${key}`);
    const texts = (Array.isArray(value) ? value : [value]).map((v) => (v === null || typeof v === 'object' ? undefined : String(v)));
    if (texts.includes(undefined)) throw new ConfigError(name, `${file}: ${key} must be a value or a list of values`);
    out[name] = texts.join(',');
  }
  return out;
}

/**
 * Reads and validates the SENTINEL_* variables once, on top of the YAML file that SENTINEL_CONFIG names
 * (variables set in the environment win). A bad value stops the start with a ConfigError naming the
 * variable; a malformed tuning-only value is reported through `warn` and defaulted.
 */
export function loadConfig(
  environment: Record<string, string | undefined> = process.env,
  warn: (msg: string) => void = (m) => process.emitWarning(m),
): Readonly<Config> {
  const file = environment[CONFIG_FILE_VARIABLE];
  const env: Record<string, string | undefined> = file ? { ...configFileValues(file) } : {};
  for (const [k, v] of Object.entries(environment)) if (v !== undefined && v !== '') env[k] = v;
  const out: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(SCHEMA)) {
    const raw = env[name];
    const value = raw === undefined || raw === '' ? undefined : raw;
    const r = (schema as z.ZodType).safeParse(value);
    if (r.success) {
      out[name] = r.data;
      continue;
    }
    const message = r.error.issues.map((i) => i.message).join('; ');
    if (OPTIONAL_TUNING.has(name)) {
      warn(`${name}: ${message}; using the default`);
      out[name] = (schema as z.ZodType).parse(undefined);
    } else {
      throw new ConfigError(name, message);
    }
  }
  const p = out as Parsed;
  const keys = p.SENTINEL_API_KEYS.map((k) =>
    k.endsWith(':ro') ? { key: k.slice(0, -3), readOnly: true } : { key: k, readOnly: false },
  );
  if (keys.some((k) => k.key.length < 8)) throw new ConfigError('SENTINEL_API_KEYS', 'every key needs at least 8 characters');
  const twice = keys.find((k, i) => keys.findIndex((o) => o.key === k.key) !== i);
  // Which one should win is a guess (read-only did): say so, and never print the key.
  if (twice) throw new ConfigError('SENTINEL_API_KEYS', `key #${keys.findIndex((o) => o.key === twice.key) + 1} is listed twice (read-only and not, or the same twice)`);
  // A known limit, said where the operator sets it (docs/DETECTION.md section 1): most such series are
  // sparse, and their per-request features are judged against a baseline their empty windows froze.
  const perPrincipal = p.SENTINEL_SERIES_KEY.filter((d) => d === 'user' || d === 'apiKeyId');
  if (perPrincipal.length) {
    warn(`SENTINEL_SERIES_KEY: a series per ${perPrincipal.join(' and ')} is sparse: expect about one false alert per 5 to 11 such series an hour of ordinary traffic, mostly low or medium (docs/DETECTION.md section 1); per-key abuse is found on the default key service,model`);
  }
  return Object.freeze({
    host: p.SENTINEL_HOST,
    port: p.SENTINEL_PORT,
    dataDir: p.SENTINEL_DATA_DIR,
    apiKeys: keys,
    windowMs: p.SENTINEL_WINDOW,
    latenessMs: p.SENTINEL_LATENESS,
    seriesKey: p.SENTINEL_SERIES_KEY,
    maxSeries: p.SENTINEL_MAX_SERIES,
    warmupWindows: p.SENTINEL_WARMUP_WINDOWS,
    sensitivity: p.SENTINEL_SENSITIVITY,
    realertPoints: p.SENTINEL_REALERT_POINTS,
    staleSeconds: p.SENTINEL_STALE_SECONDS,
    stateSaveSeconds: p.SENTINEL_STATE_SAVE_SECONDS,
    dormantRetentionDays: p.SENTINEL_DORMANT_RETENTION_DAYS,
    maxScoringQueue: p.SENTINEL_MAX_SCORING_QUEUE ?? 5 * p.SENTINEL_MAX_SERIES,
    maxPatternsPerSeries: p.SENTINEL_MAX_PATTERNS,
    bodyLimitBytes: p.SENTINEL_BODY_LIMIT,
    rateLimitPerSec: p.SENTINEL_RATE_LIMIT,
    qdrantUrl: p.SENTINEL_QDRANT_URL,
    qdrantApiKey: p.SENTINEL_QDRANT_API_KEY,
    llmBaseUrl: p.SENTINEL_LLM_BASE_URL,
    llmApiKey: p.SENTINEL_LLM_API_KEY,
    llmModel: p.SENTINEL_LLM_MODEL,
    webhookUrls: p.SENTINEL_WEBHOOK_URLS,
    amqpUrl: p.SENTINEL_AMQP_URL,
    llmTimeoutMs: p.SENTINEL_LLM_TIMEOUT,
    llmConcurrency: p.SENTINEL_LLM_CONCURRENCY,
    llmResponseFormat: p.SENTINEL_LLM_RESPONSE_FORMAT,
    webhookSecret: p.SENTINEL_WEBHOOK_SECRET,
    webhookAllowlist: p.SENTINEL_WEBHOOK_ALLOWLIST,
    slackWebhookUrl: p.SENTINEL_SLACK_WEBHOOK_URL,
    pagerdutyRoutingKey: p.SENTINEL_PAGERDUTY_ROUTING_KEY,
    pagerdutyUrl: p.SENTINEL_PAGERDUTY_URL,
    amqpAlertExchange: p.SENTINEL_AMQP_ALERT_EXCHANGE,
    amqpSecurityQueue: p.SENTINEL_AMQP_SECURITY_QUEUE,
    alertMaxAttempts: p.SENTINEL_ALERT_MAX_ATTEMPTS,
    alertRetryBaseMs: p.SENTINEL_ALERT_RETRY_BASE,
    alertCooldownMs: p.SENTINEL_ALERT_COOLDOWN,
    deadLetterMax: p.SENTINEL_DEAD_LETTER_MAX,
    alertMinSeverity: p.SENTINEL_ALERT_MIN_SEVERITY,
    otelUserAttributes: p.SENTINEL_OTEL_USER_ATTRIBUTES,
    otelApiKeyAttributes: p.SENTINEL_OTEL_API_KEY_ATTRIBUTES,
    otelTraceIdleMs: p.SENTINEL_OTEL_TRACE_IDLE,
    otelMaxOpenTraces: p.SENTINEL_OTEL_MAX_OPEN_TRACES,
    logLevel: p.SENTINEL_LOG_LEVEL,
  });
}

import pino, { type Logger } from 'pino';
import { redactSecrets } from './explain/redact';

export type { Logger };

/**
 * Paths pino censors wherever they appear, so that a key or secret passed into a log call by mistake
 * still never reaches the output.
 */
const REDACT = [
  'apiKey',
  'apiKeys',
  'key',
  'authorization',
  'headers.authorization',
  'headers["x-api-key"]',
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'config.apiKeys',
  'config.llmApiKey',
  'config.qdrantApiKey',
  'config.amqpUrl',
  'config.webhookSecret',
  'config.pagerdutyRoutingKey',
  'config.slackWebhookUrl',
  'webhookSecret',
  // PagerDuty's integration key, as its events name it (the AMQP routing key, a severity, stays readable).
  'routing_key',
  '*.apiKey',
  '*.password',
  '*.secret',
];

/**
 * Errors as pino serialises them (message and stack include their causes'), with credentials in that text
 * redacted: an upstream error may quote what it was sent (an LLM endpoint answering 401 with "Incorrect
 * API key provided: Bearer sk-...", QA), and paths cannot reach inside a string.
 */
function errSerializer(err: Error): ReturnType<typeof pino.stdSerializers.err> {
  const out = pino.stdSerializers.err(err);
  if (typeof out.message === 'string') out.message = redactSecrets(out.message);
  if (typeof out.stack === 'string') out.stack = redactSecrets(out.stack);
  return out;
}

/** The service logger: JSON lines to stdout (or `destination`), secrets redacted. */
export function createLogger(level = 'info', destination?: pino.DestinationStream): Logger {
  return pino(
    { level, base: { svc: 'llm-sentinel' }, redact: { paths: REDACT, censor: '[redacted]' }, serializers: { err: errSerializer, error: errSerializer } },
    destination,
  );
}

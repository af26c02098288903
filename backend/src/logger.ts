import pino, { type Logger } from 'pino';

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
  'routingKey',
  'routing_key',
  '*.apiKey',
  '*.password',
  '*.secret',
];

/** The service logger: JSON lines to stdout (or `destination`), secrets redacted. */
export function createLogger(level = 'info', destination?: pino.DestinationStream): Logger {
  return pino({ level, base: { svc: 'llm-sentinel' }, redact: { paths: REDACT, censor: '[redacted]' } }, destination);
}

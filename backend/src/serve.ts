import { createApp } from './app';
import { loadConfig } from './config';
import { ConfigError, DataDirInUseError } from './errors';
import { createLogger } from './logger';

/**
 * `sentinel serve`: validates the configuration, starts the service and stops it gracefully on
 * SIGTERM/SIGINT (open windows are closed, scored and stored before exit). A hard kill loses at most the
 * windows still open: one window length plus the lateness of events (SENTINEL_WINDOW + SENTINEL_LATENESS).
 * Resolves to -1: the process lives until a signal.
 */
export async function serve(): Promise<number> {
  const log = createLogger(process.env.SENTINEL_LOG_LEVEL && /^(trace|debug|info|warn|error|fatal|silent)$/.test(process.env.SENTINEL_LOG_LEVEL) ? process.env.SENTINEL_LOG_LEVEL : 'info');
  let config;
  try {
    config = loadConfig(process.env, (msg) => log.warn(msg));
    // The level may come from the YAML file (SENTINEL_CONFIG) too; the logger had to exist to report on it.
    log.level = config.logLevel;
  } catch (err) {
    if (err instanceof ConfigError) {
      log.fatal({ variable: err.variable }, `invalid configuration: ${err.message}`);
      return 78; // EX_CONFIG
    }
    throw err;
  }
  let app;
  try {
    app = await createApp(config, log);
  } catch (err) {
    // Some settings are only checked when their part is built (e.g. an LLM URL without a model).
    if (err instanceof ConfigError) {
      log.fatal({ variable: err.variable }, `invalid configuration: ${err.message}`);
      return 78;
    }
    if (err instanceof DataDirInUseError) {
      log.fatal({ variable: 'SENTINEL_DATA_DIR', dataDir: err.dataDir, pid: err.holder?.pid }, err.message);
      return 69; // EX_UNAVAILABLE, as for a port in use
    }
    throw err;
  }
  let url: string;
  try {
    url = await app.http.listen({ host: config.host, port: config.port });
  } catch (err) {
    // The address is configuration: name the variables rather than print a stack.
    const code = (err as NodeJS.ErrnoException).code ?? 'unknown';
    const why = code === 'EADDRINUSE' ? 'the port is in use' : code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? 'the host name does not resolve' : code === 'EADDRNOTAVAIL' ? 'no interface has that address' : code === 'EACCES' ? 'permission denied (ports below 1024 need privileges)' : (err as Error).message;
    log.fatal({ variable: 'SENTINEL_HOST/SENTINEL_PORT', code }, `cannot listen on ${config.host}:${config.port}: ${why}`);
    await app.close();
    return code === 'EADDRINUSE' ? 69 : 78; // EX_UNAVAILABLE / EX_CONFIG
  }
  log.info(
    {
      url,
      store: app.store.kind,
      dataDir: config.dataDir,
      windowMs: config.windowMs,
      seriesKey: config.seriesKey,
      auth: config.apiKeys.length ? `${config.apiKeys.length} keys` : 'off',
    },
    'listening',
  );
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, openWindows: app.pipeline.windower.openWindowCount }, 'shutting down: closing open windows');
    const force = setTimeout(() => {
      log.error('shutdown took longer than 20 s; exiting');
      process.exit(1);
    }, 20_000);
    force.unref();
    try {
      await app.close();
      log.info('stopped cleanly');
      process.exit(0);
    } catch (err) {
      log.error({ err }, 'error during shutdown');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  return -1;
}

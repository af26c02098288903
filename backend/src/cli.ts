#!/usr/bin/env node
import { loadConfig } from './config';
import { SentinelError } from './errors';

const USAGE = `usage: sentinel <command> [options]

commands:
  serve                               run the service (configuration from SENTINEL_* variables)
  replay --input FILE [--out FILE]    score recorded events (NDJSON or CSV) offline, in event time;
                                      prints one anomaly per line as JSON
  bench nab [options]                 run the NAB benchmark (see bench nab --help)
  bench perf [--quick]                run the performance benchmark (see bench perf --help)
  migrate --from sqlite|qdrant --to sqlite|qdrant
                                      copy patterns and anomalies between stores (see migrate --help)
  alerts dead-letters [--resend] [--sink NAME] [--url URL] [--api-key-env VAR]
                                      list the alerts a running service could not deliver, or resend
                                      them (see alerts dead-letters --help)
`;

/**
 * A stdout its reader closed (`sentinel alerts dead-letters | head -3`) ends the output quietly: the write
 * fails with EPIPE, which unhandled killed the CLI with a stack trace (QA). Later writes are dropped and the
 * command ends with its own exit code (0 for a listing).
 */
function quietOnClosedStdout(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  });
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  // Not for serve: its output is the service's log, left as it is.
  if (cmd !== 'serve') quietOnClosedStdout();
  switch (cmd) {
    case 'serve':
      // Configured by SENTINEL_* variables (or SENTINEL_CONFIG) only: an option would be silently ignored.
      if (rest.length) {
        const help = rest.includes('--help') || rest.includes('-h');
        (help ? process.stdout : process.stderr).write(
          'usage: sentinel serve\n  configuration comes from SENTINEL_* variables or the YAML file SENTINEL_CONFIG names (see README)\n',
        );
        return help ? 0 : 2;
      }
      return (await import('./serve')).serve();
    case 'replay':
      return (await import('./replay')).replayCommand(rest);
    case 'bench': {
      const [which, ...args] = rest;
      if (which === 'nab') return (await import('./bench/nab-bench')).nabCommand(args);
      if (which === 'perf') return (await import('../bench/perf/main')).perfCommand(args);
      process.stderr.write('usage: sentinel bench nab|perf [options]\n');
      return 2;
    }
    case 'migrate': {
      const { createLogger } = await import('./logger');
      return (await import('./migrate')).runMigrate(rest, process.env, createLogger(process.env.SENTINEL_LOG_LEVEL ?? 'info'));
    }
    case 'alerts': {
      const [which, ...args] = rest;
      if (which === 'dead-letters') return (await import('./dead-letters-cli')).deadLettersCommand(args, { env: process.env, out: process.stdout, err: process.stderr });
      const help = which === '--help' || which === '-h';
      (help ? process.stdout : process.stderr).write('usage: sentinel alerts dead-letters [options] (see sentinel alerts dead-letters --help)\n');
      return help ? 0 : 2;
    }
    case undefined:
      // No command is a usage error: the usage goes to stderr (as with an unknown command), exit 2.
      process.stderr.write(USAGE);
      return 2;
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(USAGE);
      return 0;
    default:
      process.stderr.write(`unknown command: ${cmd}\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== -1) process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof SentinelError) process.stderr.write(`sentinel: ${err.message}\n`);
    else process.stderr.write(`sentinel: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);

export { loadConfig };

/**
 * Command-line entry of the NAB benchmark. The CLI (`sentinel bench nab`, `npm run bench:nab`) passes
 * the arguments after `bench nab` and the production detector factory; this module owns the flags,
 * the output and the exit code.
 */
import { parseArgs } from 'node:util';
import { NabSelfCheckError } from './errors';
import { DEFAULT_NAB_OUT_DIR, formatScoreboard, runNab, type StreamingDetectorFactory } from './harness';

/** Exit codes of {@link main}. */
export const NAB_EXIT = {
  /** Run completed. */
  OK: 0,
  /** The scorer self-check failed: no score was produced. */
  SELF_CHECK_FAILED: 1,
  /** Bad command-line arguments. */
  USAGE: 2,
  /** The run failed (detector error, unreadable data, I/O). */
  RUN_FAILED: 3,
} as const;

/** Where {@link main} writes; defaults to the process streams. */
export interface MainIo {
  /** Results (the scoreboard). */
  readonly out: (text: string) => void;
  /** Progress and errors. */
  readonly err: (text: string) => void;
}

const USAGE = `usage: sentinel bench nab [options]
  --out <dir>          output directory (default ${DEFAULT_NAB_OUT_DIR}, relative to the working directory)
  --nab-dir <dir>      NAB data directory (default $SENTINEL_NAB_DIR or ../shared/data/nab)
  --concurrency <n>    series run at the same time (default 1; each series stays in order)
  --files <a,b,...>    only these corpus files, e.g. realTraffic/speed_7578.csv (scores not comparable)
  --name <name>        detector name in the scoreboard (default LLM-Sentinel)
  -h, --help           show this help`;

/**
 * Runs the NAB benchmark with `factory` and prints the scoreboard.
 *
 * @param argv arguments after `bench nab`.
 * @param factory creates a fresh streaming detector per corpus file.
 * @param io output sinks. @default process.stdout / process.stderr
 * @returns an exit code from {@link NAB_EXIT}: non-zero when the self-check or the run fails.
 */
export async function main(
  argv: string[],
  factory: StreamingDetectorFactory,
  io: MainIo = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) },
): Promise<number> {
  let values: { out?: string; 'nab-dir'?: string; concurrency?: string; files?: string; name?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        out: { type: 'string' },
        'nab-dir': { type: 'string' },
        concurrency: { type: 'string' },
        files: { type: 'string' },
        name: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    io.err(`${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
    return NAB_EXIT.USAGE;
  }
  if (values.help === true) {
    io.out(`${USAGE}\n`);
    return NAB_EXIT.OK;
  }
  const concurrency = values.concurrency === undefined ? 1 : Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    io.err(`--concurrency must be a positive integer, got ${values.concurrency}\n${USAGE}\n`);
    return NAB_EXIT.USAGE;
  }
  const files = values.files
    ?.split(',')
    .map((f) => f.trim())
    .filter((f) => f !== '');

  try {
    const result = await runNab({
      factory,
      outDir: values.out ?? DEFAULT_NAB_OUT_DIR,
      nabDir: values['nab-dir'],
      concurrency,
      files,
      detectorName: values.name,
      log: (line) => io.err(`${line}\n`),
    });
    io.out(`${formatScoreboard(result)}\nresults in ${result.outDir}\n`);
    return NAB_EXIT.OK;
  } catch (error) {
    if (error instanceof NabSelfCheckError) {
      io.err(`${error.message}\n${error.failures.map((f) => `  ${f}`).join('\n')}\n`);
      return NAB_EXIT.SELF_CHECK_FAILED;
    }
    io.err(`NAB benchmark failed: ${error instanceof Error ? error.message : String(error)}\n`);
    if (error instanceof Error && error.cause !== undefined) io.err(`  caused by: ${String(error.cause)}\n`);
    return NAB_EXIT.RUN_FAILED;
  }
}

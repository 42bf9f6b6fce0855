#!/usr/bin/env node
import { removeTempFilesSync } from '../npy/writer.ts';
import { describeFailure, UsageError } from './errors.ts';
import { mainUsage, packageVersion } from './usage.ts';

/** One `hnm` command: loaded on first use, so `hnm --help` starts fast. */
interface Command {
  readonly summary: string;
  run(argv: string[]): Promise<number>;
}

/** The command table: add a command here (name, one-line summary, lazy import). */
const COMMANDS = new Map<string, Command>([
  [
    'mine',
    {
      summary: 'write the hard negative mask (bool .npy) of a loss .npy file',
      run: async (argv) => (await import('./mine.ts')).mineCommand(argv),
    },
  ],
  [
    'rank',
    {
      summary: "write idx_rank (int32 .npy): each loss's place in its row's descending order",
      run: async (argv) => (await import('./rank.ts')).rankCommand(argv),
    },
  ],
  [
    'merge',
    {
      summary: 'concatenate .npy shards along their rows (the parts of --shard I/N)',
      run: async (argv) => (await import('./merge.ts')).mergeCommand(argv),
    },
  ],
  [
    'info',
    {
      summary: "print .npy files' dtype, shape, order, format version and data bytes",
      run: async (argv) => (await import('./info.ts')).infoCommand(argv),
    },
  ],
  [
    'bench',
    {
      summary: 'time mask implementations on the same batches, each checked exact',
      run: async (argv) => (await import('../bench/command.ts')).benchCommand(argv),
    },
  ],
  [
    'demo',
    {
      summary: 'mine a synthetic SSD300 batch, check it against the seed, compare speed',
      run: async (argv) => (await import('./demo.ts')).demoCommand(argv),
    },
  ],
]);

function usage(): string {
  return mainUsage([...COMMANDS].map(([name, c]) => ({ name, summary: c.summary })));
}

/** Runs `hnm` with `argv` (the arguments after the program name); resolves to the exit status. */
async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    // Bare `hnm`: the help, on stderr (stdout may be a pipe expecting data), as a usage error.
    process.stderr.write(usage());
    return 2;
  }
  if (name === '-h' || name === '--help') {
    process.stdout.write(usage());
    return 0;
  }
  if (name === '-v' || name === '--version') {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  if (name === 'help') {
    const target = rest[0] === undefined ? undefined : COMMANDS.get(rest[0]);
    if (target !== undefined) return main([rest[0]!, '--help']);
    process.stdout.write(usage());
    return 0;
  }
  const command = name === undefined ? undefined : COMMANDS.get(name);
  try {
    if (command === undefined) {
      throw new UsageError(`unknown command '${name}' (commands: ${[...COMMANDS.keys()].join(', ')})`);
    }
    return await command.run(rest);
  } catch (e) {
    const { code, text } = describeFailure(e, command === undefined ? '' : name!);
    process.stderr.write(`${text}\n`);
    return code;
  }
}

/**
 * An interrupted run must not leave a temporary output file behind: remove them on the signals a
 * user or batch system sends, then exit with the conventional 128 + signal number.
 */
function installCleanup(): void {
  const signals: [NodeJS.Signals, number][] = [
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ];
  for (const [signal, code] of signals) {
    process.on(signal, () => {
      removeTempFilesSync();
      if (process.stderr.isTTY) process.stderr.write('\n');
      process.exit(code);
    });
  }
  process.on('exit', removeTempFilesSync);
  // `hnm ... | head` closes stdout early: that is not an error worth a stack trace.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
  });
}

installCleanup();
process.exitCode = await main(process.argv.slice(2));

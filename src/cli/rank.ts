import type { OptionTable } from './args.ts';
import { parseNan, parseOptions, parseRows, parseThreads, required, str } from './args.ts';
import { findNan } from './nan.ts';
import { runStream } from './stream.ts';
import { report } from './summary.ts';
import { RANK_USAGE } from './usage.ts';

const OPTIONS: OptionTable = {
  loss: { type: 'string' },
  out: { type: 'string' },
  threads: { type: 'string' },
  nan: { type: 'string' },
  rows: { type: 'string' },
  quiet: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

/**
 * `hnm rank`: streams the loss file in row chunks and writes `idx_rank` as `<i4` `(B, N)` (or the
 * `--rows` slice), chunk by chunk at its offset. Resolves to the exit status; user errors are
 * thrown for `main` to report.
 */
export async function rankCommand(argv: readonly string[]): Promise<number> {
  const values = parseOptions(argv, OPTIONS);
  if (values.help === true) {
    process.stdout.write(RANK_USAGE);
    return 0;
  }
  const loss = required(values, 'loss', 'LOSS.npy');
  const out = required(values, 'out', 'RANK.npy');
  const plan = {
    out,
    threads: parseThreads(str(values, 'threads')),
    nanLargest: parseNan(str(values, 'nan')),
    rows: parseRows(str(values, 'rows')),
    quiet: values.quiet === true,
    json: values.json === true,
  };
  const summary = await runStream({
    command: 'rank',
    lossFile: loss,
    outFile: out,
    outDescr: '<i4',
    outItemSize: 4,
    rows: plan.rows,
    threads: plan.threads,
    quiet: plan.quiet,
    json: plan.json,
    async prepare() {
      return {
        async run(engine, chunk) {
          let rank: Int32Array;
          try {
            rank = await engine.rank(chunk.loss, chunk.cols, plan.nanLargest);
          } catch (e) {
            throw (e instanceof RangeError ? findNan(loss, chunk) : undefined) ?? e;
          }
          // int32 little-endian on every host Node.js supports, so the bytes are '<i4' as they are.
          return new Uint8Array(rank.buffer, rank.byteOffset, rank.byteLength);
        },
        negatives: () => undefined,
        close: async () => {},
      };
    },
  });
  report(summary, plan, 'ranked', 'idx_rank as int32');
  return 0;
}

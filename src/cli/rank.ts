import type { OptionTable } from './args.ts';
import { parseOptions, required } from './args.ts';
import { openSlice, planStream, STREAM_OPTIONS } from './common.ts';
import { nanInFile } from './nan.ts';
import { lossFileSource } from './sources.ts';
import { runStream } from './stream.ts';
import { report } from './summary.ts';
import { RANK_USAGE } from './usage.ts';

const OPTIONS: OptionTable = { ...STREAM_OPTIONS, loss: { type: 'string' } };

/**
 * `hnm rank`: streams the loss file in row chunks and writes `idx_rank` as `<i4` `(B, N)` (or the
 * `--rows`/`--shard` slice), chunk by chunk. Resolves to the exit status; user errors are thrown
 * for `main` to report.
 */
export async function rankCommand(argv: readonly string[]): Promise<number> {
  const values = parseOptions(argv, OPTIONS);
  if (values.help === true) {
    process.stdout.write(RANK_USAGE);
    return 0;
  }
  const loss = { option: '--loss', file: required(values, 'loss', 'LOSS.npy') };
  const out = { option: '--out', file: required(values, 'out', 'RANK.npy') };
  const plan = planStream(values, [out]);
  const slice = await openSlice(plan, [loss], [out], () => lossFileSource(loss.file));
  const summary = await runStream({
    command: 'rank',
    ...slice,
    out,
    outDescr: '<i4',
    outItemSize: 4,
    threads: plan.threads,
    nan: plan.nan,
    quiet: plan.quiet,
    async prepare() {
      return {
        async run(engine, chunk) {
          let rank: Int32Array;
          try {
            rank = await engine.rank(chunk.loss, chunk.cols, plan.nan);
          } catch (e) {
            throw nanInFile(e, loss.file, chunk);
          }
          // int32 little-endian on every host Node.js supports, so the bytes are '<i4' as they are.
          return new Uint8Array(rank.buffer, rank.byteOffset, rank.byteLength);
        },
        negatives: () => undefined,
        close: async () => {},
      };
    },
  });
  report(summary, { out: out.file, quiet: plan.quiet, json: plan.json }, 'ranked', 'idx_rank as int32');
  return 0;
}

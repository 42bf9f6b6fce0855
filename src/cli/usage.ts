import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The top-level help: one line per command, from the command table. */
export function mainUsage(commands: readonly { name: string; summary: string }[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return `Usage: hnm <command> [options]

Exact SSD hard negative mining on NumPy .npy files, streamed in bounded memory.

Commands:
${commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Options:
  -h, --help     show this help (or 'hnm <command> --help')
  -v, --version  print the version

Exit status: 0 success, 1 bad data or I/O error, 2 usage error.

Examples:
  hnm mine --loss loss.npy --num-neg 600 --out mask.npy
  hnm mine --logits logits.npy --labels labels.npy --preset torchvision --out mask.npy
  hnm info mask.npy
`;
}

const COMMON = `  --threads N            worker threads (default: the machine's CPU count)
  --nan error|largest    a NaN loss is an error naming its row and column (default),
                         or ranks above +Inf as PyTorch does
  --rows START:END       process only these rows (0-based, END exclusive, like a Python
                         slice; either side may be omitted; beyond the row count is an
                         error). The output holds just those rows
  --shard I/N            process shard I (0-based) of N: rows floor(I*B/N) .. floor((I+1)*B/N);
                         shards 0..N-1 concatenate (hnm merge) to the whole run
  --quiet                no progress bar and no summary
  --json                 print one summary object on stdout: rows, cols, negatives,
                         seconds, ns_per_element, threads (and converted_from for float64)
  -h, --help             show this help

Files: '-' reads stdin (one input at most) or writes stdout (not with --json). Pipes and
FIFOs are read front to back in the same bounded memory. An output is never an input (exit 2);
a symlink is written through to its target; a FIFO or device is streamed into; a regular file
is written to a temporary file in its folder and renamed on success.`;

/** Help of `hnm mine`. */
export const MINE_USAGE = `Usage:
  hnm mine --loss LOSS.npy --out MASK.npy COUNT [options]
  hnm mine --logits LOGITS.npy --labels LABELS.npy --out MASK.npy [--loss-out LOSS.npy]
           [--preset NAME] [--ratio R] [--min-neg INT] [options]

Writes the hard negative mask: for each row of LOSS (B, N), true for the k largest losses
(ties by index, exactly as PyTorch's stable double sort), as a numpy bool (B, N) array.

COUNT, exactly one of:
  --num-neg INT          the same k for every row
  --num-neg-file K.npy   k per row: integers, shape (B,) or (B, 1)
  --positives POS.npy    bool or uint8 0/1 (B, N); k from the number of positives P per row,
                         as the training framework named by --preset does it:
    --preset NAME        ssd.pytorch (default)  positives' loss set to 0, k = min(R*P, N-1)
                         pytorch_advanced       positives' loss set to 0, k = min(R*P, N)
                         torchvision            positives' loss set to -Inf, k = R*P, no cap
                         mmdet                  top-k over the negatives, k = min(R*P, #negatives)
                         ssd_keras              one top-k over the whole batch of the nonzero-loss
                                                negatives, k = min(max(R*P_batch, M), #those);
                                                reads the whole batch at once, no --rows
                         tf_object_detection    TensorFlow Object Detection API's HardExampleMiner
                                                (NMS by loss, then a neg:pos ratio): other inputs,
                                                see 'hnm mine --preset tf_object_detection --help'
                         (a fractional k rounds up: rank < k, as in PyTorch)
    --ratio R            negatives per positive (default 3); whole numbers for mmdet, ssd_keras
    --min-neg M          at least M negatives per row before the cap (ssd_keras: per batch)

Inputs:
  --loss LOSS.npy        float32 (B, N), C order; float64 is converted to float32
  --logits LOGITS.npy    float32 (B, N, C) (float64 converted) with --labels LABELS.npy,
                         integers (B, N), 0 = background, positives = label > 0; the loss is
                         loss_c = logsumexp(logits) - logits[label], computed stably
  --loss-out LOSS.npy    with --logits: also write loss_c, float32 (B, N) (just the --rows)
  --out MASK.npy         the mask (see Files below)

Options:
${COMMON}

Examples:
  hnm mine --loss loss.npy --num-neg-file k.npy --out mask.npy
  hnm mine --loss loss.npy --positives pos.npy --preset mmdet --shard $SLURM_ARRAY_TASK_ID/8 --out part.npy
  python make_loss.py | hnm mine --loss - --num-neg 600 --out - | python use_mask.py
`;

/** Help of `hnm rank`. */
export const RANK_USAGE = `Usage: hnm rank --loss LOSS.npy --out RANK.npy [options]

Writes idx_rank as int32 (B, N): the position of each element in the stable descending
order of its row (0 = largest loss, ties by index), what PyTorch's
loss.sort(1, descending=True)[1].sort(1)[1] returns.

  --loss LOSS.npy        float32 (B, N), C order; float64 is converted to float32
  --out RANK.npy         idx_rank (see Files below)

Options:
${COMMON}

Examples:
  hnm rank --loss loss.npy --out rank.npy
  hnm rank --loss loss.npy --rows 0:1000 --out head.npy --json
`;

/** Help of \`hnm merge\`. */
export const MERGE_USAGE = `Usage: hnm merge --out WHOLE.npy PART0.npy PART1.npy ... [--quiet]

Concatenates .npy files along their first axis (rows), in the order given: the shards
of 'hnm mine --shard I/N' back into the whole run. Streams in 8 MiB pieces; the output is
written like every hnm output (a temporary file renamed on success, '-' for stdout). The
parts must agree in dtype ('descr'), trailing shape and C order; the first that does not
is named (exit 1). The output must not be one of the parts (exit 2).

  --out WHOLE.npy        the merged array
  --quiet                no summary line on stderr
  -h, --help             show this help

Examples:
  hnm merge --out mask.npy part-0.npy part-1.npy part-2.npy part-3.npy
  hnm merge --out mask.npy $(ls part-*.npy | sort -t- -k2 -n)
`;

/** Help of \`hnm info\`. */
export const INFO_USAGE = `Usage: hnm info FILE.npy ... [--json]

Prints each file's dtype, shape, order (C or Fortran), format version and data bytes,
from its header (checked against the file size: a truncated file is an error, exit 1).

  --json                 one JSON object per file and line: file, descr, dtype, shape,
                         order, version, header_bytes, data_bytes
  -h, --help             show this help

Examples:
  hnm info loss.npy mask.npy
  hnm info part-*.npy --json
`;

/** Help of `hnm demo`. */
export const DEMO_USAGE = `Usage: hnm demo [--threads N] [--seed S] [--json]

Synthesizes an SSD300 batch (512 images x 8732 default boxes, about 0.4% positives,
exponential confidence loss, positives zeroed, num_neg = min(3P, N-1)), mines it, checks
sampled rows against the seed's literal double sort and prints the timings.

  --threads N            worker threads (default: the machine's CPU count)
  --seed S               seed of the synthetic batch (default 1)
  --json                 print the summary as one JSON object
  -h, --help             show this help

Examples:
  hnm demo
  hnm demo --threads 1 --seed 7 --json
`;

/**
 * This package's version, read from its package.json (found by walking up from this file, which
 * works both from `src/cli` and from the compiled `dist/src/cli`).
 */
export function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'hard-negative-mining' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not here; keep walking up
    }
    dir = dirname(dir);
  }
  return 'unknown';
}

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
`;
}

const COMMON = `  --threads N            worker threads (default: the machine's CPU count)
  --nan error|largest    a NaN loss is an error naming its row and column (default),
                         or ranks above +Inf as PyTorch does
  --rows START:END       process only these rows (0-based, END exclusive, like a Python
                         slice; either side may be omitted). The output holds just those
                         rows; shards concatenate to the output of the whole run
  --quiet                no progress bar and no summary
  --json                 print one summary object on stdout: rows, cols, negatives,
                         seconds, ns_per_element, threads
  -h, --help             show this help`;

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
  --out MASK.npy         written to a temporary file in the same folder, renamed on success

Options:
${COMMON}
`;

/** Help of `hnm rank`. */
export const RANK_USAGE = `Usage: hnm rank --loss LOSS.npy --out RANK.npy [options]

Writes idx_rank as int32 (B, N): the position of each element in the stable descending
order of its row (0 = largest loss, ties by index), what PyTorch's
loss.sort(1, descending=True)[1].sort(1)[1] returns.

  --loss LOSS.npy        float32 (B, N), C order; float64 is converted to float32
  --out RANK.npy         written to a temporary file in the same folder, renamed on success

Options:
${COMMON}
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

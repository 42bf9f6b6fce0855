import type { RunSummary } from './stream.ts';

/** Prints a streamed command's summary: one JSON object with `--json`, else one line unless `--quiet`. */
export function report(
  summary: RunSummary,
  plan: {
    readonly out: string;
    readonly lossOut?: string | undefined;
    readonly quiet: boolean;
    readonly json: boolean;
  },
  verb: string,
  detail: string,
): void {
  if (plan.json) {
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    return;
  }
  if (plan.quiet) return;
  // With `--out -` stdout carries the data: the summary line goes to stderr.
  const stream = plan.out === '-' || plan.lossOut === '-' ? process.stderr : process.stdout;
  const n = (x: number): string => x.toLocaleString('en-US');
  stream.write(
    `${verb} ${n(summary.rows)} x ${n(summary.cols)}: ${detail}, written to ${plan.out === '-' ? 'stdout' : plan.out} in ${summary.seconds.toFixed(2)} s ` +
      `(${summary.ns_per_element.toFixed(2)} ns/element including I/O, ${summary.threads} thread${summary.threads === 1 ? '' : 's'})\n`,
  );
}

import type { RunSummary } from './stream.ts';

/** Prints a streamed command's summary: one JSON object with `--json`, else one line unless `--quiet`. */
export function report(
  summary: RunSummary,
  plan: { readonly out: string; readonly quiet: boolean; readonly json: boolean },
  verb: string,
  detail: string,
): void {
  if (plan.json) {
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    return;
  }
  if (plan.quiet) return;
  const n = (x: number): string => x.toLocaleString('en-US');
  process.stdout.write(
    `${verb} ${n(summary.rows)} x ${n(summary.cols)}: ${detail}, written to ${plan.out} in ${summary.seconds.toFixed(2)} s ` +
      `(${summary.ns_per_element.toFixed(2)} ns/element including I/O, ${summary.threads} thread${summary.threads === 1 ? '' : 's'})\n`,
  );
}

/** A progress display for a run over `total` rows. */
export interface Progress {
  /** Reports that `done` rows of `total` are finished. Cheap: redraws at most 10 times a second. */
  update(done: number): void;
  /** Erases the bar (call once, on success or failure). */
  finish(): void;
}

const NONE: Progress = { update() {}, finish() {} };

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/**
 * One line of the progress bar, e.g. `mine [#########.........]  48.0%  9,600/20,000 rows
 * 4,800 rows/s  ETA 2s`, fitted to `width` columns. Pure, for tests.
 */
export function formatProgress(
  label: string,
  done: number,
  total: number,
  seconds: number,
  width: number,
): string {
  const fraction = total > 0 ? Math.min(1, done / total) : 1;
  const rate = seconds > 0 ? done / seconds : 0;
  const eta = rate > 0 ? (total - done) / rate : Number.POSITIVE_INFINITY;
  const tail = `${(fraction * 100).toFixed(1).padStart(5)}%  ${done.toLocaleString('en-US')}/${total.toLocaleString('en-US')} rows  ${Math.round(rate).toLocaleString('en-US')} rows/s  ETA ${formatDuration(eta)}`;
  const barWidth = Math.max(0, Math.min(30, width - label.length - tail.length - 6));
  if (barWidth < 5) return `${label} ${tail}`.slice(0, Math.max(0, width - 1));
  const filled = Math.round(fraction * barWidth);
  return `${label} [${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)}] ${tail}`;
}

/**
 * A progress bar on `stream` (stderr) when `enabled` (the caller passes `isTTY && !quiet`), redrawn
 * in place with `\r`; otherwise a no-op. Nothing is written to stdout, so `--json` output stays clean.
 */
export function createProgress(
  label: string,
  total: number,
  enabled: boolean,
  stream: NodeJS.WriteStream = process.stderr,
): Progress {
  if (!enabled) return NONE;
  const started = performance.now();
  let last = 0;
  let drawn = false;
  return {
    update(done: number): void {
      const now = performance.now();
      if (now - last < 100 && done < total) return;
      last = now;
      drawn = true;
      stream.write(
        `\r${formatProgress(label, done, total, (now - started) / 1000, stream.columns || 80)}\x1b[K`,
      );
    },
    finish(): void {
      if (drawn) stream.write('\r\x1b[K');
    },
  };
}

import { describe, expect, it } from 'vitest';
import { train } from '../examples/tfjs-train-ssd.ts';

describe('examples/tfjs-train-ssd.ts', () => {
  it('trains the tiny SSD head: the loss goes down over a few steps', async () => {
    const lines: string[] = [];
    const report = await train({ steps: 4, log: (line) => lines.push(line) });
    expect(report.losses).toHaveLength(4);
    expect(report.losses.every(Number.isFinite)).toBe(true);
    expect(report.losses[3]!).toBeLessThan(report.losses[0]!);
    expect(report.miningShare).toBeGreaterThan(0);
    expect(report.miningShare).toBeLessThan(1);
    expect(lines[0]).toMatch(
      /^step {2}1 {2}loss \d+\.\d{4} {2}step [\d.]+ ms {2}mining [\d.]+ ms \([\d.]+%\)$/,
    );
  });
});

import { execFileSync, spawn } from 'node:child_process';
import { getEventListeners } from 'node:events';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  watch,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  HardNegativeMiner,
  hardNegativeMask,
  hardNegativeMaskBatchWide,
  ssdNegatives,
} from '../src/index.ts';
import { encodeNpy, parseNpy, writeNpy } from '../src/npy/small.ts';
import { SharedStaging } from '../src/pool/shared-buffers.ts';
import { firstDifference, prng } from './support/adversarial.ts';
import { faultyMiner } from './support/gate.ts';
import { ensureBuilt, hnm, MAIN, STACK_TRACE } from './support/hnm.ts';
import { collectUnhandledRejections } from './support/unhandled.ts';

/**
 * Faults: a worker killed mid-task (and the shared staging buffer it may still hold), close() while
 * busy, AbortSignal before and after dispatch, the CLI killed with SIGKILL mid-write, and a full disk.
 * No sleeps: workers are held mid-task by an Atomics gate (the fixture worker
 * test/fixtures/fault-worker.ts, see test/support/gate.ts),
 * the CLI by its `HNM_TEST_STALL` hook or a watch on its output folder.
 */

const COLS = 8732;
const ROWS = 16; // 139,712 elements: two tasks on two threads

function batch(seed: number): { loss: Float32Array; counts: number[]; expected: Uint8Array } {
  const random = prng(seed);
  const loss = new Float32Array(ROWS * COLS);
  for (let i = 0; i < loss.length; i++)
    loss[i] = random() < 0.2 ? Math.floor(random() * 3) : -Math.log(1 - random());
  const counts = Array.from({ length: ROWS }, () => Math.floor(random() * 601));
  return { loss, counts, expected: hardNegativeMask(loss, COLS, counts) };
}

/**
 * Records every staging buffer the coordinator acquires and releases (the class is patched for the
 * duration of a test), so a test can tell whether a buffer a worker may still hold was recycled.
 */
function spyOnStaging() {
  const acquired: SharedArrayBuffer[] = [];
  const released: SharedArrayBuffer[] = [];
  const { acquire, release } = SharedStaging.prototype;
  SharedStaging.prototype.acquire = function (this: SharedStaging, bytes: number) {
    const buffer = acquire.call(this, bytes);
    acquired.push(buffer);
    return buffer;
  };
  SharedStaging.prototype.release = function (this: SharedStaging, buffer: SharedArrayBuffer) {
    released.push(buffer);
    return release.call(this, buffer);
  };
  return {
    acquired,
    released,
    restore() {
      SharedStaging.prototype.acquire = acquire;
      SharedStaging.prototype.release = release;
    },
  };
}

const unhandled = collectUnhandledRejections();
afterAll(() => {
  expect(unhandled).toEqual([]);
});

describe('a worker killed mid-task', () => {
  const a = batch(1);
  const b = batch(2);
  const faulty = faultyMiner({ threads: 2, inlineBelow: 0 });
  const { miner } = faulty;
  afterAll(() => miner.close());

  it('rejects that call clearly; later calls succeed; its staging buffer is never recycled', async () => {
    const spy = spyOnStaging();
    try {
      expect(firstDifference(await miner.mask(a.loss, COLS, a.counts), a.expected)).toBe(-1);
      const g = faulty.arm('exit', { gated: true });
      const doomed = miner.mask(a.loss, COLS, a.counts);
      const held = spy.acquired.at(-1)!; // the doomed call's buffer: its worker holds it mid-task
      const since = { acquired: spy.acquired.length, released: spy.released.length };
      const reusedSince = () => [
        ...spy.acquired.slice(since.acquired).filter((buffer) => buffer === held),
        ...spy.released.slice(since.released).filter((buffer) => buffer === held),
      ];
      const outcome = doomed.then(
        () => 'resolved',
        (e: unknown) => e,
      );
      await g.reached;
      // While the worker is alive mid-task, other calls run (on the other thread) and never get its buffer.
      const during = await Promise.all([1, 2, 3].map(() => miner.mask(b.loss, COLS, b.counts)));
      for (const mask of during) expect(firstDifference(mask, b.expected)).toBe(-1);
      expect(reusedSince()).toEqual([]);
      g.release(); // the worker now exits (process.exit in the thread) without answering
      const error = await outcome;
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toMatch(/^hard negative mining failed in a worker thread: .*exit/);
      // The pool replaced the thread: later calls, mask and batch-wide, are exact.
      for (let i = 0; i < 4; i++) {
        expect(firstDifference(await miner.mask(b.loss, COLS, b.counts), b.expected)).toBe(-1);
        const wide = await miner.maskBatchWide(b.loss, COLS, 5000);
        expect(firstDifference(wide, hardNegativeMaskBatchWide(b.loss, COLS, 5000))).toBe(-1);
      }
      expect(reusedSince()).toEqual([]);
      expect(miner.stats.active).toBe(0);
    } finally {
      spy.restore();
    }
  });

  it('an aborted call keeps its buffer out of reuse until its running task has answered', async () => {
    const spy = spyOnStaging();
    try {
      const g = faulty.arm('none', { gated: true });
      const controller = new AbortController();
      // Batch-wide: a late histogram task of this call would write into its staging buffer.
      const call = miner.maskBatchWide(a.loss, COLS, 5000, { signal: controller.signal });
      const held = spy.acquired.at(-1)!;
      await g.reached;
      controller.abort(new Error('enough'));
      await expect(call).rejects.toMatchObject({ name: 'AbortError' });
      // The call has settled but its task still runs: the buffer must not be handed out yet.
      const during = await Promise.all([1, 2].map(() => miner.maskBatchWide(b.loss, COLS, 7000)));
      const expected = hardNegativeMaskBatchWide(b.loss, COLS, 7000);
      for (const mask of during) expect(firstDifference(mask, expected)).toBe(-1);
      expect(spy.released).not.toContain(held);
      expect(spy.acquired.filter((buffer) => buffer === held)).toHaveLength(1);
      const releasedHeld = new Promise<void>((resolve) => {
        const { release } = SharedStaging.prototype;
        SharedStaging.prototype.release = function (this: SharedStaging, buffer: SharedArrayBuffer) {
          const kept = release.call(this, buffer);
          if (buffer === held) resolve();
          return kept;
        };
      });
      g.release(); // the task sees its call's cancel flag and answers; only then is the buffer recycled
      await releasedHeld;
      expect(firstDifference(await miner.maskBatchWide(b.loss, COLS, 7000), expected)).toBe(-1);
    } finally {
      spy.restore();
    }
  });

  it('a crash in one task of a batch-wide call rejects it; the pool and later batch-wide calls are fine', async () => {
    faulty.arm('crash', { task: 1 });
    await expect(miner.maskBatchWide(a.loss, COLS, 3000)).rejects.toThrow(/worker thread: injected crash/);
    const expected = hardNegativeMaskBatchWide(a.loss, COLS, 3000);
    expect(firstDifference(await miner.maskBatchWide(a.loss, COLS, 3000), expected)).toBe(-1);
    expect(miner.stats.active).toBe(0);
  });
});

describe('close() while busy', () => {
  it('settles every pending call (mask, rank, batch-wide, ssdNegatives, queued) with the closed error', async () => {
    const a = batch(3);
    // One thread, held mid-task by the gate: every later call waits behind it, so all are pending.
    const one = faultyMiner({ threads: 1, inlineBelow: 0 });
    const { miner } = one;
    await miner.mask(a.loss, COLS, a.counts);
    const g = one.arm('none', { gated: true });
    const positives = new Uint8Array(a.loss.length).map((_, i) => (i % 97 === 0 ? 1 : 0));
    const calls: Promise<unknown>[] = [
      miner.mask(a.loss, COLS, a.counts),
      ...Array.from({ length: 20 }, () => miner.mask(a.loss, COLS, a.counts)),
      miner.rank(a.loss, COLS),
      miner.maskBatchWide(a.loss, COLS, 100),
      miner.ssdNegatives({ loss: a.loss, cols: COLS, positives, preset: 'mmdet' }),
      miner.ssdNegatives({ loss: a.loss, cols: COLS, positives, preset: 'ssd_keras' }),
    ];
    await g.reached;
    const closing = [miner.close(), miner.close()];
    const results = await Promise.allSettled(calls);
    for (const result of results) {
      expect(result.status).toBe('rejected');
      expect(String((result as PromiseRejectedResult).reason)).toMatch(/HardNegativeMiner is closed/);
    }
    await Promise.all(closing); // terminates the blocked worker: no release needed
    // After close: every method rejects (never throws), small inline-sized calls too.
    const tiny = new Float32Array([3, 1, 2]);
    for (const late of [
      () => miner.mask(tiny, 3, 1),
      () => miner.rank(tiny, 3),
      () => miner.maskBatchWide(tiny, 3, 1),
      () => miner.ssdNegatives({ loss: tiny, cols: 3, positives: [0, 1, 0] }),
    ]) {
      let promise: Promise<unknown> | undefined;
      expect(() => {
        promise = late();
      }).not.toThrow();
      await expect(promise).rejects.toThrow(/closed/);
    }
  });
});

describe('AbortSignal', () => {
  const a = batch(4);
  const positives = new Uint8Array(a.loss.length).map((_, i) => (i % 50 === 0 ? 1 : 0));
  const faulty = faultyMiner({ threads: 2, inlineBelow: 0 });
  const { miner } = faulty;
  afterAll(() => miner.close());

  it('already aborted: every method rejects with an AbortError before dispatch, inline calls too', async () => {
    const signal = AbortSignal.abort(new Error('stop'));
    const inline = new HardNegativeMiner({ threads: 1 });
    const tiny = new Float32Array([3, 1, 2, 5]);
    const calls = [
      miner.mask(a.loss, COLS, a.counts, { signal }),
      miner.rank(a.loss, COLS, { signal }),
      miner.maskBatchWide(a.loss, COLS, 10, { signal }),
      miner.ssdNegatives({ loss: a.loss, cols: COLS, positives, signal }),
      inline.mask(tiny, 4, 1, { signal }),
      inline.rank(tiny, 4, { signal }),
      inline.maskBatchWide(tiny, 4, 1, { signal }),
    ];
    for (const result of await Promise.allSettled(calls)) {
      expect(result.status).toBe('rejected');
      const reason = (result as PromiseRejectedResult).reason as DOMException;
      expect(reason.name).toBe('AbortError');
      expect(reason.cause).toBe(signal.reason);
    }
    await inline.close();
  });

  it('after dispatch: rank (its task running) and ssdNegatives (tasks posted) reject at once; the pool carries on', async () => {
    const g = faulty.arm('none', { gated: true });
    const controller = new AbortController();
    const rank = miner.rank(a.loss, COLS, { signal: controller.signal });
    await g.reached;
    controller.abort();
    await expect(rank).rejects.toMatchObject({ name: 'AbortError' });
    g.release();
    // ssdNegatives prepares on the calling thread and posts its tasks before returning.
    const second = new AbortController();
    const ssd = miner.ssdNegatives({ loss: a.loss, cols: COLS, positives, signal: second.signal });
    second.abort();
    await expect(ssd).rejects.toMatchObject({ name: 'AbortError' });
    expect(firstDifference(await miner.mask(a.loss, COLS, a.counts), a.expected)).toBe(-1);
    const pooled = await miner.ssdNegatives({ loss: a.loss, cols: COLS, positives });
    expect(
      firstDifference(pooled.negatives, ssdNegatives({ loss: a.loss, cols: COLS, positives }).negatives),
    ).toBe(-1);
    expect(miner.stats.active).toBe(0);
  });

  it('aborting after the call resolved changes nothing; one signal shared by many calls keeps no listener', async () => {
    const controller = new AbortController();
    const { signal } = controller;
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        i % 2 === 0
          ? miner.mask(a.loss, COLS, a.counts, { signal })
          : miner.rank(a.loss.subarray(0, COLS), COLS, { signal }),
      ),
    );
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
    controller.abort();
    expect(firstDifference(results[0] as Uint8Array, a.expected)).toBe(-1);
    expect(ssdNegatives({ loss: a.loss, cols: COLS, positives }).numNegatives).toBeGreaterThan(0);
  });
});

describe('the CLI killed with SIGKILL mid-write', () => {
  let dir = '';
  let lossFile = '';
  beforeAll(() => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'hnm-faults-'));
    const random = prng(9);
    const loss = Float32Array.from({ length: 400 * 873 }, () => random());
    lossFile = join(dir, 'loss.npy');
    writeFileSync(lossFile, encodeNpy(loss, [400, 873]));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  function start(out: string, env: Record<string, string>) {
    const child = spawn(
      process.execPath,
      [MAIN, 'mine', '--loss', lossFile, '--num-neg', '3', '--out', out],
      {
        cwd: dir,
        env: { ...process.env, ...env },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('exit', (code, signal) => resolve({ code, signal })),
    );
    return { child, exited };
  }

  it('after the first chunk is written: no file under the final name (the temporary file may remain)', async () => {
    const out = join(dir, 'stalled.npy');
    const { child, exited } = start(out, { HNM_CHUNK_ROWS: '8', HNM_TEST_STALL: '1' });
    let stderr = '';
    await new Promise<void>((resolve) => {
      child.stderr!.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
        if (stderr.includes('stalled after the first chunk')) resolve();
      });
    });
    const temps = readdirSync(dir).filter((f) => f.startsWith('.stalled.npy.'));
    expect(temps).toHaveLength(1); // mid-write: the data goes to a temporary file
    child.kill('SIGKILL');
    expect(await exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(existsSync(out)).toBe(false);
    // SIGKILL cannot be caught, so the temporary file stays (a dot-file named after the target and
    // the pid); it never takes the final name.
    expect(readdirSync(dir).filter((f) => f.startsWith('.stalled.npy.'))).toEqual(temps);
  });

  it('at the moment its temporary file appears in a real run: the final name exists only after a successful exit', async () => {
    const out = join(dir, 'raced.npy');
    const watcher = watch(dir);
    let killed = false;
    const { child, exited } = start(out, { HNM_CHUNK_ROWS: '1' });
    watcher.on('change', (_event, name) => {
      if (!killed && String(name).startsWith('.raced.npy.')) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    const result = await exited;
    watcher.close();
    if (result.signal === 'SIGKILL') {
      expect(existsSync(out)).toBe(false);
    } else {
      // The run beat the kill: then the output must be complete.
      expect(result.code).toBe(0);
      expect(parseNpy(new Uint8Array(readFileSync(out))).shape).toEqual([400, 873]);
    }
  });
});

/**
 * Whether this process may mount a tmpfs (root with CAP_SYS_ADMIN): tried once at collection time on
 * a scratch folder and unmounted at once, so a filtered-out or aborted run leaves no mount behind.
 * Returns '' or why not.
 */
function cannotMount(): string {
  const dir = mkdtempSync(join(tmpdir(), 'hnm-mount-probe-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { stdio: 'pipe' });
    execFileSync('umount', [dir], { stdio: 'pipe' });
    return '';
  } catch (e) {
    const reason = `cannot mount a tmpfs here (${String((e as Error).message).split('\n')[0]}): full-disk tests skipped`;
    process.stderr.write(`${reason}\n`);
    return reason;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('a full disk', () => {
  const reason = cannotMount();
  /** The 1 MiB tmpfs the tests write to, mounted for this block only. */
  const disk = { dir: '' };
  let inputs = '';
  beforeAll(() => {
    if (reason !== '') return;
    ensureBuilt();
    disk.dir = mkdtempSync(join(tmpdir(), 'hnm-full-disk-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', disk.dir], { stdio: 'pipe' });
    inputs = mkdtempSync(join(tmpdir(), 'hnm-full-disk-inputs-'));
    const random = prng(5);
    // 300 x 8732: a 2.6 MB mask and a 10.5 MB rank, neither fits in 1 MiB.
    writeFileSync(
      join(inputs, 'loss.npy'),
      encodeNpy(
        Float32Array.from({ length: 300 * 8732 }, () => random()),
        [300, 8732],
      ),
    );
    writeFileSync(
      join(inputs, 'logits.npy'),
      encodeNpy(
        Float32Array.from({ length: 100 * 8732 * 2 }, () => random()),
        [100, 8732, 2],
      ),
    );
    writeFileSync(join(inputs, 'labels.npy'), encodeNpy(new Uint8Array(100 * 8732), [100, 8732]));
  });
  afterAll(() => {
    if (disk.dir !== '') {
      execFileSync('umount', [disk.dir], { stdio: 'pipe' });
      rmSync(disk.dir, { recursive: true, force: true });
    }
    if (inputs !== '') rmSync(inputs, { recursive: true, force: true });
  });

  const cases: [string, (out: string) => string[]][] = [
    ['mine', (out) => ['mine', '--loss', join(inputs, 'loss.npy'), '--num-neg', '3', '--out', out]],
    ['rank', (out) => ['rank', '--loss', join(inputs, 'loss.npy'), '--out', out]],
    [
      'mine --logits --loss-out (the temporary loss file fills the disk)',
      (out) => [
        'mine',
        '--logits',
        join(inputs, 'logits.npy'),
        '--labels',
        join(inputs, 'labels.npy'),
        '--loss-out',
        join(disk.dir, 'loss_out.npy'),
        '--out',
        out,
      ],
    ],
  ];

  it.skipIf(reason !== '').each(cases)(
    '%s: exit 1 naming the output and ENOSPC, nothing left behind',
    async (_name, args) => {
      const out = join(disk.dir, 'out.npy');
      const run = await hnm(args(out), { cwd: inputs, timeoutMs: 60_000 });
      expect(run.code, run.stderr).toBe(1);
      expect(run.stderr).toMatch(/cannot write .*: no space left on device \(ENOSPC\)/);
      expect(run.stderr).not.toMatch(STACK_TRACE);
      expect(readdirSync(disk.dir)).toEqual([]);
    },
  );

  it.skipIf(reason !== '')(
    'a disk already full before the header is written: exit 1, nothing left behind',
    async () => {
      const filler = join(disk.dir, 'filler');
      mkdirSync(filler);
      // Fill the tmpfs to the last byte (the write fails with ENOSPC once it is full).
      try {
        writeFileSync(join(filler, 'blob'), new Uint8Array(2 * 1024 * 1024));
      } catch (e) {
        expect((e as NodeJS.ErrnoException).code).toBe('ENOSPC');
      }
      try {
        const run = await hnm(
          ['mine', '--loss', join(inputs, 'loss.npy'), '--num-neg', '1', '--out', join(disk.dir, 'o.npy')],
          {
            cwd: inputs,
          },
        );
        expect(run.code, run.stderr).toBe(1);
        expect(run.stderr).toMatch(/cannot write .*o\.npy: no space left on device \(ENOSPC\)/);
        expect(readdirSync(disk.dir)).toEqual(['filler']);
        // The library's writer too: writeNpy rejects with the fs error and leaves nothing.
        await expect(
          writeNpy(join(disk.dir, 'lib.npy'), new Float32Array(1 << 18), [1 << 18]),
        ).rejects.toMatchObject({
          code: 'ENOSPC',
        });
        expect(readdirSync(disk.dir)).toEqual(['filler']);
      } finally {
        rmSync(filler, { recursive: true, force: true });
      }
    },
  );

  it.runIf(reason !== '')('is skipped: no tmpfs could be mounted', () => {
    expect(reason).toMatch(/cannot mount/);
  });
});

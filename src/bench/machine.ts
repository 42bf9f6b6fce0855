import os from 'node:os';

/** The machine a benchmark ran on: enough to tell two result files apart and judge their noise. */
export interface MachineInfo {
  /** `os.availableParallelism()`: the CPUs this process may use. */
  readonly cpus: number;
  /** CPU model string (first core). */
  readonly model: string;
  /** `process.version`, e.g. `v20.20.2`. */
  readonly node: string;
  readonly v8: string;
  readonly platform: string;
  readonly arch: string;
  /** Total memory in GiB. */
  readonly memory_gib: number;
  /** 1, 5 and 15 minute load averages at the start: a busy machine makes noisy figures. */
  readonly loadavg: readonly number[];
  /** ISO time at the start of the run. */
  readonly date: string;
}

/** Describes the current machine. Cheap (a few system calls). */
export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpus: os.availableParallelism(),
    model: cpus[0]?.model.trim() ?? 'unknown',
    node: process.version,
    v8: process.versions.v8,
    platform: os.platform(),
    arch: os.arch(),
    memory_gib: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100),
    date: new Date().toISOString(),
  };
}

import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * A ceiling on V8's young generation, for every long-running roadlog process.
 *
 * V8 sizes the young generation's maximum from the machine: on Node 24 without pointer
 * compression it is 2 × 64 MB (Node 20 stopped at 2 × 16). It grows there in the first burst of
 * allocation (a backlog drained after a Kafka outage, a restart's catch-up) and gives it back
 * only while the process allocates less than about 1 MB/s, which a busy pipeline never does. So
 * every burst left each process 60-100 MB larger for good: in the soak the InfluxDB sink went
 * from 363 to 426 MiB resident in an hour, its young generation at 128 MiB.
 *
 * The hard bound is Node's `--max-semi-space-size=16` (`NODE_FLAGS`), which V8 reads only at
 * start-up: the `roadlog` program's first line passes it (so systemd units and a user's shell
 * get it), and so do the demo and the tests when they start the CLI with `process.execPath`.
 * A process started without it (`node dist/shared/cli/main.js`) gets the same ceiling at run
 * time, best effort: the growth factor (`--semi-space-growth-factor`) is read each time V8
 * decides to grow, so it is set to 1 once the young generation reaches half the ceiling
 * (checked after every garbage collection, which Node reports on a later turn; a long
 * synchronous stretch can grow it past that meanwhile).
 *
 * The edge agent also keeps it from growing at all while its message rate is low
 * (edge/agent/young-generation.ts): it asks through `allowYoungGenerationGrowth`, so the two
 * rules never undo each other.
 */
export const V8_DEFAULT_GROWTH_FACTOR = 2;

/** What every roadlog process starts with: 2 × 16 MB of young generation at most, Node 20's maximum on a 64-bit machine. */
export const NODE_FLAGS = ['--max-semi-space-size=16'] as const;

/** The ceiling for a process started without NODE_FLAGS (both semi-spaces together). */
export const YOUNG_GENERATION_CEILING_BYTES = 32 * 1024 * 1024;

/** Whether node was started with a semi-space limit of its own (on its command line or in NODE_OPTIONS). */
export function startedWithSemiSpaceLimit(execArgv: readonly string[], nodeOptions: string | undefined): boolean {
  return [...execArgv, ...(nodeOptions ?? '').split(/\s+/)].some((a) => /^--max[-_]semi[-_]space[-_]size(=|$)/.test(a));
}

let growthWanted = true;
let atCeiling = false;
let applied = V8_DEFAULT_GROWTH_FACTOR;
let observer: PerformanceObserver | undefined;
let ceilingBytes = Number.POSITIVE_INFINITY;

/** The young generation's committed size (both semi-spaces), as V8 reports it. */
export function youngGenerationBytes(): number {
  return getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
}

function apply(): void {
  const factor = growthWanted && !atCeiling ? V8_DEFAULT_GROWTH_FACTOR : 1;
  if (factor === applied) return;
  setFlagsFromString(`--semi-space-growth-factor=${factor}`);
  applied = factor;
}

function check(): void {
  // Growth doubles the size, and this runs a moment after a collection (Node delivers GC
  // entries on a later turn), by when V8 may have grown once more: stop at half the ceiling.
  atCeiling = youngGenerationBytes() * 2 >= ceilingBytes;
  apply();
}

/**
 * From now on the young generation grows to at most `bytes` (both semi-spaces). 0 lifts the
 * ceiling. Called once, first thing, by the CLI (shared/cli/early.ts).
 */
export function capYoungGeneration(bytes: number): void {
  observer?.disconnect();
  observer = undefined;
  ceilingBytes = bytes > 0 ? bytes : Number.POSITIVE_INFINITY;
  if (bytes > 0) {
    observer = new PerformanceObserver(check);
    observer.observe({ entryTypes: ['gc'] });
  }
  check();
}

/** Whether the caller wants the young generation to grow at all (it still stops at the ceiling). */
export function allowYoungGenerationGrowth(allowed: boolean): void {
  growthWanted = allowed;
  apply();
}

/** The growth factor in effect (1: not growing), for tests and metrics. */
export function youngGenerationGrowthFactor(): number {
  return applied;
}

let collect: ((options: object) => void) | undefined;

/**
 * One memory-reducing garbage collection (V8's "last resort" flavour, what it runs under memory
 * pressure): the young generation shrinks to its start size and freed pages go back to the
 * system, which V8 otherwise does only once the process allocates less than ~1 MB/s. It stops
 * the process while it runs; returns how long, in ms. The edge agent runs it when a burst is
 * over (edge/agent/agent.ts). `gc` comes from a context made after `--expose-gc` is set, as
 * Node's own tests get it; the process's global scope gets nothing.
 */
export function shrinkHeap(): number {
  if (collect === undefined) {
    setFlagsFromString('--expose-gc');
    collect = runInNewContext('gc') as (options: object) => void;
  }
  const t0 = performance.now();
  collect({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  return performance.now() - t0;
}

/**
 * Runs before any other module of the CLI is loaded (main.ts imports it first):
 * - a process started without `--max-semi-space-size` (main.ts's first line gives it) has its
 *   young generation stopped at 32 MB at run time instead (shared/heap/young-generation.ts);
 * - the edge agent starts with the young generation pinned small, before module loading grows
 *   it. See edge/agent/young-generation.ts; `edge.memory.burstMessagesPerSecond: 0` undoes it at
 *   start. Only `roadlog [global options] edge start ...` pins.
 */
import { pinYoungGeneration } from '../../edge/agent/young-generation.js';
import { capYoungGeneration, startedWithSemiSpaceLimit, YOUNG_GENERATION_CEILING_BYTES } from '../heap/young-generation.js';

/** The program's global options that take a value (shared/cli/program.ts), as written before the command. */
const GLOBAL_WITH_VALUE = new Set(['-c', '--config', '--log-level']);

export function isEdgeStart(argv: readonly string[]): boolean {
  const words: string[] = [];
  for (let i = 0; i < argv.length && words.length < 2; i++) {
    const a = argv[i]!;
    if (a === '--') break;
    if (GLOBAL_WITH_VALUE.has(a)) i++; // its value
    else if (!a.startsWith('-')) words.push(a);
  }
  return words[0] === 'edge' && words[1] === 'start';
}

if (!startedWithSemiSpaceLimit(process.execArgv, process.env.NODE_OPTIONS)) capYoungGeneration(YOUNG_GENERATION_CEILING_BYTES);
if (isEdgeStart(process.argv.slice(2))) pinYoungGeneration();

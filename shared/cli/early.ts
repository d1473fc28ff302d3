/**
 * Runs before any other module of the CLI is loaded (main.ts imports it first):
 * - every command's young generation stops growing at a ceiling, 32 MiB by default
 *   (shared/heap/young-generation.ts); `ROADLOG_V8_YOUNG_GENERATION_MIB` sets it, 0 leaves V8's
 *   own maximum;
 * - the edge agent starts with the young generation pinned small, before module loading grows
 *   it. See edge/agent/young-generation.ts; `edge.memory.burstMessagesPerSecond: 0` undoes it at
 *   start. Only `roadlog [global options] edge start ...` pins.
 */
import { pinYoungGeneration } from '../../edge/agent/young-generation.js';
import { capYoungGeneration, DEFAULT_YOUNG_GENERATION_CEILING_BYTES } from '../heap/young-generation.js';

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

/** The ceiling in bytes from `ROADLOG_V8_YOUNG_GENERATION_MIB`, or the problem with its value. */
export function youngGenerationCeiling(value: string | undefined): { bytes: number } | { problem: string } {
  if (value === undefined || value === '') return { bytes: DEFAULT_YOUNG_GENERATION_CEILING_BYTES };
  if (!/^\d+$/.test(value.trim())) return { problem: `roadlog: ROADLOG_ERR_CONFIG_INVALID ROADLOG_V8_YOUNG_GENERATION_MIB: expected a whole number of MiB (0: V8's own maximum), got ${JSON.stringify(value)}\n` };
  return { bytes: Number(value.trim()) * 1024 * 1024 };
}

const ceiling = youngGenerationCeiling(process.env.ROADLOG_V8_YOUNG_GENERATION_MIB);
if ('problem' in ceiling) {
  process.stderr.write(ceiling.problem);
  process.exit(2);
}
capYoungGeneration(ceiling.bytes);
if (isEdgeStart(process.argv.slice(2))) pinYoungGeneration();

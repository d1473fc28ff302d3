/**
 * Runs before any other module of the CLI is loaded (main.ts imports it first): the edge agent
 * starts with the young generation pinned small, before module loading grows it. See
 * edge/agent/young-generation.ts; `edge.memory.burstMessagesPerSecond: 0` undoes it at start.
 */
import { pinYoungGeneration } from '../../edge/agent/young-generation.js';

const edge = process.argv.indexOf('edge', 2);
if (edge !== -1 && process.argv[edge + 1] === 'start') pinYoungGeneration();

import { z } from 'zod';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

export const LogOptionsSchema = z
  .object({
    level: z.enum(LOG_LEVELS).default('info'),
    /** `auto`: human-readable when stderr is a terminal, JSON lines otherwise. */
    format: z.enum(['auto', 'json', 'pretty']).default('auto'),
  })
  .strict();

export type LogOptions = z.output<typeof LogOptionsSchema>;

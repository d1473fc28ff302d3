export { createLogger, type Logger } from './logger.js';
export { LogOptionsSchema, LOG_LEVELS, type LogOptions } from './options.js';

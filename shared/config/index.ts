export { loadConfig, readConfigFile, deepMerge, deepFreeze, type LoadConfigOptions, type DeepReadonly } from './load.js';
export { envKeys, envName, readEnv, type EnvKey } from './env.js';
export { RoadlogConfigSchema, type RoadlogConfig } from './roadlog.js';

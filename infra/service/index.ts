export {
  spawnDetached, isAlive, isServiceProcess, writePidFile, readPidFile, livePid, assertNotRunning,
  waitForExit, terminate, signal, stopByPidFile, sleep, type SpawnDetachedOptions,
} from './process.js';
export { LOOPBACK, freePort, freePorts, servicePortRange, tcpReady, assertPortsFree, waitUntilReady, logTail, type WaitReadyOptions } from './ready.js';
export { startDaemon, stopDaemon, daemonStatus, assertCanStart, type DaemonInfo, type DaemonStatus, type StartDaemonOptions } from './daemon.js';

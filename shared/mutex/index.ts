export { Mutex } from './mutex.js';

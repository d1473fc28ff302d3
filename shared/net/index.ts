export { listen, type ListenOptions } from './listen.js';

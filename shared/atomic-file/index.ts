export { writeFileAtomic, nodeAtomicFs, type AtomicFs, type AtomicFile, type WriteFileAtomicOptions } from './atomic-file.js';

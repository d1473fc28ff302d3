export { ERROR_CODES, type ErrorCode } from './codes.js';
export { RoadlogError, isRoadlogError, type RoadlogErrorOptions } from './errors.js';
export { asFileError } from './file.js';

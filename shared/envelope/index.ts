export { HEADER, DEAD_LETTER_HEADER, encodeEnvelopeHeaders, decodeEnvelopeHeaders, dedupKey, type Envelope, type RecordHeaders } from './envelope.js';
export { EnvelopeDedup } from './dedup.js';

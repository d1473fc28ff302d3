export { HEADER, encodeEnvelopeHeaders, decodeEnvelopeHeaders, dedupKey, type Envelope, type RecordHeaders } from './envelope.js';
export { EnvelopeDedup } from './dedup.js';

export { HEADER, encodeEnvelopeHeaders, decodeEnvelopeHeaders, dedupKey, type Envelope, type RecordHeaders } from './envelope.js';

export { AlertEventSchema, OperatorActionSchema, alertIdOf, alertJsonSchema, KNOWN_CATEGORIES, SEVERITIES, ALERT_STATES, type AlertEvent, type AlertState, type Severity } from './alert.js';

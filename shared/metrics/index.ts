export { createMetricsRegistry, metricsRequestListener, startMetricsServer, type Health, type MetricsServer } from './metrics.js';

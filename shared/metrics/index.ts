export { createMetricsRegistry, metricsRequestListener, startMetricsServer, type Health, type JsonRoutes, type MetricsServer } from './metrics.js';

export { createMetricsRegistry, metricsRequestListener, startMetricsServer, type Health, type JsonActions, type JsonRoutes, type MetricsServer } from './metrics.js';
export { parsePrometheus, histogramQuantiles, type Sample, type Quantiles } from './prometheus.js';

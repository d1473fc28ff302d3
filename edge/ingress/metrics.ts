import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The ingress's metrics; names are stable (dashboards and tests read them). */
export function createIngressMetrics(registry: Registry) {
  return {
    connections: new Gauge({ name: 'roadlog_edge_mqtt_connections', help: 'Connected MQTT clients', registers: [registry] }),
    connectionsTotal: new Counter({ name: 'roadlog_edge_mqtt_connections_total', help: 'MQTT connections accepted by the socket server', registers: [registry] }),
    messages: new Counter({
      name: 'roadlog_edge_messages_total',
      help: 'PUBLISH packets by outcome: stored, duplicate, dead_letter, rejected',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    rejects: new Counter({
      name: 'roadlog_edge_rejects_total',
      help: 'Refused connections, logins, publishes and subscriptions, and dead letters, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    acks: new Counter({ name: 'roadlog_edge_acks_total', help: 'PUBACK/PUBREC sent (acknowledged QoS 1/2 publishes)', labelNames: ['qos'], registers: [registry] }),
    ackLatency: new Histogram({
      name: 'roadlog_edge_ack_latency_seconds',
      help: 'From PUBLISH received to acknowledgment released (validation + durable append)',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    throttled: new Counter({ name: 'roadlog_edge_throttled_total', help: 'Publishes delayed by the per-vehicle rate limit', registers: [registry] }),
  };
}

export type IngressMetrics = ReturnType<typeof createIngressMetrics>;

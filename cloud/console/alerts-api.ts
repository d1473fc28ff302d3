import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AlertCommand } from '../../shared/alerts/index.js';
import type { Role } from './users.js';
import type { ConsoleKafka, FeedChange, LiveFeeds } from './feeds.js';
import { session } from './server.js';
import type { Sessions } from './sessions.js';
import { eventStream } from './stream.js';

/**
 * The live side of the console:
 * - `GET /api/alerts`, `GET /api/gateways`: what the feeds hold now.
 * - `GET /api/stream`: server-sent events. `alerts` first carries every alert
 *   (`{snapshot: true, alerts}`), then each batch's changed alerts as the hot path publishes
 *   them; `gateways` carries the gateways' table when a heartbeat arrives and every 5 s (a
 *   gateway goes offline by the clock, not by an event). A comment every 15 s keeps proxies from
 *   closing it.
 * - `POST /api/alerts/:id/ack|clear {note?}` (operator): the command goes to the hot path's
 *   command topic, keyed like the alert so the instance that owns it gets it; the alert's new
 *   state comes back as an alert event, through the stream, to every open page. 202 when Kafka
 *   has the command.
 */
export interface AlertsApiOptions {
  feeds: LiveFeeds;
  kafka: ConsoleKafka;
  requireRole(req: FastifyRequest, reply: FastifyReply, role: Role): boolean;
  sessions: Sessions;
  timeoutMs: number;
}

export function registerAlertsApi(app: FastifyInstance, o: AlertsApiOptions): void {
  app.get('/api/alerts', async () => ({ live: o.feeds.problem === undefined, problem: o.feeds.problem ?? null, alerts: o.feeds.alerts() }));
  app.get('/api/gateways', async () => ({ live: o.feeds.problem === undefined, problem: o.feeds.problem ?? null, gateways: o.feeds.gateways() }));

  app.get('/api/stream', (req, reply) => {
    const stream = eventStream(req, reply, o.sessions);
    stream.send('alerts', { snapshot: true, live: o.feeds.problem === undefined, problem: o.feeds.problem ?? null, alerts: o.feeds.alerts() });
    stream.send('gateways', { gateways: o.feeds.gateways() });
    const stop = o.feeds.listen((change: FeedChange) => {
      if (change.kind === 'alerts') stream.send('alerts', { snapshot: false, alerts: change.alerts });
      else stream.send('gateways', { gateways: o.feeds.gateways() });
    });
    const tick = setInterval(() => stream.send('gateways', { gateways: o.feeds.gateways() }), 5_000);
    stream.onClose(() => {
      stop();
      clearInterval(tick);
    });
  });

  app.post<{ Params: { id: string; action: 'ack' | 'clear' }; Body: { note?: string } | undefined }>('/api/alerts/:id/:action', {
    schema: {
      params: { type: 'object', required: ['id', 'action'], properties: { id: { type: 'string', pattern: '^[0-9a-f]{32}$' }, action: { type: 'string', enum: ['ack', 'clear'] } } },
      body: { type: ['object', 'null'], additionalProperties: false, properties: { note: { type: 'string', maxLength: 1000 } } },
    },
  }, async (req, reply) => {
    if (!o.requireRole(req, reply, 'operator')) return reply;
    const alert = o.feeds.alert(req.params.id);
    if (alert === undefined) return reply.code(404).send({ error: { code: 'ROADLOG_ERR_ALERT_NOT_FOUND', message: `no alert ${req.params.id} among the open and recent ones` } });
    const k = await o.kafka();
    if (k === undefined) return reply.code(503).send({ error: { code: 'ROADLOG_ERR_KAFKA_UNAVAILABLE', message: 'the console has no Kafka connection (see its log)' } });
    const note = req.body?.note;
    const cmd: AlertCommand = { v: 1, alertId: alert.alertId, action: req.params.action, by: session(req).user, at: Date.now(), ...(note === undefined || note === '' ? {} : { note }) };
    const { sendCommand } = await import('../hot/alerts.js');
    await sendCommand(k.kafka, k.topic('alertCommands'), alert, cmd, o.timeoutMs);
    return reply.code(202).send({ sent: cmd });
  });
}

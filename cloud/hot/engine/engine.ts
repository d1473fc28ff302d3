import type { AlertEvent } from '../../../shared/alerts/index.js';
import type { Rule, RuleOf, RulePack } from '../rules/schema.js';
import { applyOperator, newSubjectState, stepEpisode, type Occasion, type RuleMeta, type SubjectState } from './episodes.js';
import { evaluatorOf, limitsOf, type Evaluator } from './evaluators.js';
import { newOrderState, VehicleOrder, type OrderState, type Verdict } from './order.js';
import type { Sample, Signal } from './sample.js';
import { heapPop, heapPush } from './heap.js';

/**
 * The alerting engine: pure, no I/O. The live path (`roadlog hot start`) and the backtest feed
 * it the same records in the same order and get the same alert events (ids included).
 *
 * - Each vehicle's records go through VehicleOrder (dedup by seq, reordering within the
 *   allowed lateness), then through every rule's evaluator in device-time order, then the
 *   episode layer, which emits alert events.
 * - Absence works in device time, per lane (a gateway's records of one edge partition in one
 *   Kafka partition, which arrive in the order the gateway stored them): a vehicle is silent
 *   once the newest device time of its lane is `after` past its own newest record. A gap found
 *   when the vehicle's next record arrives (its offline buffer, a gateway's backlog) opens and
 *   clears the same episode, late, with the same id as a live detection would have. Because it
 *   is driven by records, not timers, a replay finds the same silences.
 * - A gateway whose heartbeats stopped for `gatewayAfter` of wall time gets one
 *   `gateway_offline` alert (its vehicles' silence is not judged meanwhile: their lanes do not
 *   move), opened at its last heartbeat's time + gatewayAfter and cleared by the next heartbeat.
 */
export interface EngineOptions {
  /** The vehicles table (a stream-table join): a vehicle's class picks the rules' `byClass` limits, its overrides come last. */
  vehicleRef?: (vehicleId: string) => { class: string; overrides: Readonly<Record<string, number>> } | undefined;
}

export interface EngineCounters {
  /** Records offered, by what the per-vehicle ordering did with them. */
  released: number;
  evaluated: number;
  duplicates: number;
  tooLate: number;
  held: number;
}

export interface VehicleState {
  gatewayId: string;
  lane: string;
  partition: number;
  order: OrderState;
  /** Device time of the newest record evaluated. */
  lastTs: number | null;
  /**
   * Where its lane stood (device time) when its newest record arrived: the vehicle is silent
   * once the lane moves `after` past this. (Not its own device time: a vehicle uploading a
   * backlog behind the others is reporting, not silent.)
   */
  absenceKey: number | null;
  rules: Record<string, unknown>;
  /** Alert episodes by rule id, then subject. */
  episodes: Record<string, Record<string, SubjectState>>;
}

interface LaneState {
  watermark: number;
  /** Vehicles by their newest device time (lazy min-heap: stale entries are skipped). */
  heap: [number, string][];
}

export interface GatewayState {
  /** The newest heartbeat's own time (gateway clock) and when it reached us (wall). */
  lastAt: number | null;
  lastWall: number | null;
  offline: SubjectState;
}

const ABSENCE_SUBJECT = '';

/** One partition's engine state (see HotEngine.snapshotPartition); plain data, JSON-safe. */
export interface PartitionSnapshot {
  vehicles: [string, VehicleState][];
  lanes: [string, number | null][];
  gateways: [string, Pick<GatewayState, 'lastAt' | 'offline'>][];
}

export class HotEngine {
  readonly counters: EngineCounters = { released: 0, evaluated: 0, duplicates: 0, tooLate: 0, held: 0 };
  private readonly vehicles = new Map<string, VehicleState>();
  private readonly lanes = new Map<string, LaneState>();
  private readonly gateways = new Map<string, GatewayState>();
  private readonly order: VehicleOrder;
  private readonly evaluators = new Map<string, Evaluator<unknown>>();
  private readonly absence: RuleOf<'absence'> | undefined;
  private readonly metas = new Map<string, RuleMeta>();
  /** Vehicles holding records forwarded ahead (critical lane), by the normal lane they wait for. */
  private readonly waiting = new Map<string, Set<string>>();

  constructor(
    readonly pack: RulePack,
    private readonly options: EngineOptions = {},
  ) {
    this.order = new VehicleOrder(pack.allowedLateness, (held) => {
      const normal = normalLaneOf(held.lane);
      if (normal === undefined) return undefined;
      // Past it by the lateness: the normal lane's records are in arrival order, which may stray
      // from device-time order by that much.
      return (this.lanes.get(normal)?.watermark ?? -Infinity) >= held.t.ts + pack.allowedLateness;
    });
    this.absence = pack.rules.find((r): r is RuleOf<'absence'> => r.kind === 'absence');
    for (const r of pack.rules) this.metas.set(r.id, { id: r.id, category: r.category, severity: r.severity, cooldown: r.kind === 'absence' ? 0 : r.cooldown });
  }

  /** Takes one telemetry record; returns the alert events it caused (possibly for records it had held). */
  offer(s: Sample): { verdict: Verdict; events: AlertEvent[] } {
    const v = this.vehicleOf(s);
    const { verdict, released } = this.order.offer(v.order, s);
    if (verdict === 'released') this.counters.released++;
    else if (verdict === 'duplicate') this.counters.duplicates++;
    else if (verdict === 'too-late') this.counters.tooLate++;
    else if (verdict === 'held') this.counters.held++;
    const events: AlertEvent[] = [];
    for (const r of released) this.evaluate(v, r, events);
    const first = v.order.held[0];
    const normal = first === undefined ? undefined : normalLaneOf(first.lane);
    if (normal !== undefined) (this.waiting.get(normal) ?? this.waiting.set(normal, new Set()).get(normal)!).add(s.t.vehicleId);
    return { verdict, events };
  }

  /** A gateway heartbeat (its own clock `at`, received at wall time `wallNow`): clears its `gateway_offline` alert if one is open. */
  heartbeat(gatewayId: string, at: number, wallNow: number): AlertEvent[] {
    const g = this.gatewayOf(gatewayId);
    const events: AlertEvent[] = [];
    if (g.lastAt !== null && at <= g.lastAt) return events;
    g.lastAt = at;
    g.lastWall = wallNow;
    if (g.offline.open !== null && this.absence !== undefined) this.gatewaySignal(g, gatewayId, false, at, wallNow, events);
    return events;
  }

  /**
   * Call about once a second with the wall clock: raises `gateway_offline` for gateways (those
   * `owns` picks) whose heartbeats stopped `gatewayAfter` ago.
   */
  tick(wallNow: number, owns: (gatewayId: string) => boolean = () => true): AlertEvent[] {
    const events: AlertEvent[] = [];
    const rule = this.absence;
    if (rule !== undefined) {
      for (const [id, g] of this.gateways) {
        if (owns(id) && g.lastAt !== null && g.lastWall !== null && wallNow - g.lastWall > rule.gatewayAfter) this.gatewaySignal(g, id, true, g.lastAt + rule.gatewayAfter, wallNow, events);
      }
    }
    return events;
  }

  /** Releases every held record (the end of a backtest, a clean shutdown). */
  flush(): AlertEvent[] {
    const events: AlertEvent[] = [];
    for (const v of this.vehicles.values()) for (const r of this.order.drain(v.order, true)) this.evaluate(v, r, events);
    return events;
  }

  /** An operator's ack or clear; the event to publish, or undefined when that alert is not open here. */
  command(cmd: { alertId: string; action: 'ack' | 'clear'; by: string; at: number; note?: string }, wallNow: number): AlertEvent | undefined {
    for (const [vehicleId, v] of this.vehicles) {
      for (const [ruleId, subjects] of Object.entries(v.episodes)) {
        for (const [subject, st] of Object.entries(subjects)) {
          if (st.open?.alertId !== cmd.alertId) continue;
          return applyOperator(st, this.metas.get(ruleId)!, subject, cmd, { vehicleId, gatewayId: v.gatewayId, ts: v.order.lastTs ?? 0, detectedAt: wallNow, lateByMs: 0, lateAfterMs: this.pack.lateAfter });
        }
      }
    }
    for (const [gatewayId, g] of this.gateways) {
      if (g.offline.open?.alertId === cmd.alertId) return applyOperator(g.offline, this.gatewayMeta(), '', cmd, { vehicleId: '', gatewayId, ts: g.lastAt ?? 0, detectedAt: wallNow, lateByMs: 0, lateAfterMs: this.pack.lateAfter });
    }
    return undefined;
  }

  /**
   * The state of one Kafka partition's vehicles and lanes (and of the gateways `ownsGateway`
   * picks), as JSON-ready data: what the changelog keeps. restorePartition(snapshot) brings a
   * fresh engine to the same state; dropPartition forgets a partition a rebalance took away.
   */
  snapshotPartition(partition: number, ownsGateway: (gatewayId: string) => boolean): PartitionSnapshot {
    const vehicles: [string, VehicleState][] = [];
    const lanes = new Set<string>();
    for (const [id, v] of this.vehicles) {
      if (v.partition !== partition) continue;
      vehicles.push([id, v]);
      lanes.add(v.lane);
    }
    return {
      vehicles: structuredClone(vehicles),
      lanes: [...lanes].map((k) => [k, this.lanes.get(k)?.watermark ?? null] as [string, number | null]),
      gateways: structuredClone([...this.gateways].filter(([id]) => ownsGateway(id)).map(([id, g]) => [id, { lastAt: g.lastAt, offline: g.offline }] as [string, Pick<GatewayState, 'lastAt' | 'offline'>])),
    };
  }

  restorePartition(snapshot: PartitionSnapshot, wallNow: number): void {
    for (const [key, watermark] of snapshot.lanes) this.laneOf(key).watermark = watermark ?? -Infinity;
    for (const [id, v] of snapshot.vehicles) {
      const copy = structuredClone(v);
      this.vehicles.set(id, copy);
      if (copy.absenceKey !== null) heapPush(this.laneOf(copy.lane).heap, [copy.absenceKey, id]);
      const normal = copy.order.held[0] === undefined ? undefined : normalLaneOf(copy.order.held[0].lane);
      if (normal !== undefined) (this.waiting.get(normal) ?? this.waiting.set(normal, new Set()).get(normal)!).add(id);
    }
    // A restored gateway gets a fresh grace period: its heartbeats were not being watched meanwhile.
    for (const [id, g] of snapshot.gateways) this.gateways.set(id, { lastAt: g.lastAt, lastWall: g.lastAt === null ? null : wallNow, offline: structuredClone(g.offline) });
  }

  dropPartition(partition: number, ownsGateway: (gatewayId: string) => boolean): void {
    for (const [id, v] of this.vehicles) if (v.partition === partition) this.vehicles.delete(id);
    for (const key of [...this.lanes.keys()]) if (key.endsWith(`/${partition}`)) this.lanes.delete(key);
    for (const id of [...this.gateways.keys()]) if (ownsGateway(id)) this.gateways.delete(id);
  }

  private vehicleOf(s: Sample): VehicleState {
    const id = s.t.vehicleId;
    let v = this.vehicles.get(id);
    if (v === undefined) {
      v = { gatewayId: s.gatewayId, lane: s.lane, partition: s.partition, order: newOrderState(), lastTs: null, absenceKey: null, rules: {}, episodes: {} };
      this.vehicles.set(id, v);
    }
    return v;
  }

  private gatewayOf(id: string): GatewayState {
    let g = this.gateways.get(id);
    if (g === undefined) this.gateways.set(id, (g = { lastAt: null, lastWall: null, offline: newSubjectState() }));
    return g;
  }

  private laneOf(key: string): LaneState {
    let l = this.lanes.get(key);
    if (l === undefined) this.lanes.set(key, (l = { watermark: -Infinity, heap: [] }));
    return l;
  }

  /** One released record through every rule, in device-time order. */
  private evaluate(v: VehicleState, s: Sample, events: AlertEvent[]): void {
    this.counters.evaluated++;
    const vehicleId = s.t.vehicleId;
    const prevTs = v.lastTs;
    v.gatewayId = s.gatewayId;
    v.lane = s.lane;
    v.partition = s.partition;
    const lane = this.laneOf(s.lane);
    // How far behind the gateway's live front: its lane's, and for a record forwarded ahead (critical lane: few records, a
    // watermark of its own that says little) the normal lane's too. A vehicle's buffer uploaded after a link loss is late here.
    const normal = normalLaneOf(s.lane);
    const front = Math.max(lane.watermark, normal === undefined ? -Infinity : (this.lanes.get(normal)?.watermark ?? -Infinity));
    const lateByMs = Math.max(0, front - s.t.ts, s.ingestTs === undefined ? 0 : s.arrivedAt - s.ingestTs);
    const at: Occasion = { vehicleId, gatewayId: s.gatewayId, ts: s.t.ts, detectedAt: s.arrivedAt, lateByMs, lateAfterMs: this.pack.lateAfter };
    const ref = this.options.vehicleRef?.(vehicleId);
    for (const rule of this.pack.rules) {
      if (rule.kind === 'absence') continue;
      if (rule.while !== undefined && !rule.while.every((c) => holdsField(c, s))) continue;
      const ev = this.evaluatorFor(rule, ref);
      if (!(rule.id in v.rules)) v.rules[rule.id] = ev!.init();
      for (const sig of ev!.step(v.rules[rule.id], s)) this.emit(v, rule.id, sig, at, events);
    }
    // Absence, after the fact: a gap in this vehicle's own records.
    const absence = this.absence;
    if (absence !== undefined) {
      if (prevTs !== null && s.t.ts - prevTs > absence.after) this.absenceSignal(v, vehicleId, true, prevTs + absence.after, { ...at, lateByMs: Math.max(lateByMs, s.t.ts - prevTs - absence.after) }, events);
      const open = v.episodes[absence.id]?.[ABSENCE_SUBJECT]?.open;
      // (a live detection may have fired for a vehicle whose records were only slow: it clears no earlier than it opened)
      if (open != null) this.absenceSignal(v, vehicleId, false, Math.max(s.t.ts, open.openedAt), at, events);
    }
    v.lastTs = s.t.ts;
    // Absence, live: this record moved its lane on; anyone in the lane left `after` behind is silent.
    v.absenceKey = Math.max(s.t.ts, lane.watermark);
    if (s.t.ts > lane.watermark) {
      lane.watermark = s.t.ts;
      this.releaseWaiting(s.lane, s.arrivedAt, events);
    }
    if (absence !== undefined) {
      heapPush(lane.heap, [v.absenceKey, vehicleId]);
      this.checkLane(lane, absence, s.arrivedAt, events);
    }
  }

  /** The normal lane moved on: vehicles holding records forwarded ahead of it may release them. */
  private releaseWaiting(laneKey: string, wallNow: number, events: AlertEvent[]): void {
    const ids = this.waiting.get(laneKey);
    if (ids === undefined) return;
    for (const id of [...ids]) {
      const v = this.vehicles.get(id);
      if (v === undefined || v.order.held.length === 0) {
        ids.delete(id);
        continue;
      }
      for (const r of this.order.drain(v.order, false)) this.evaluate(v, r, events);
      if (v.order.held.length === 0) ids.delete(id);
    }
    if (ids.size === 0) this.waiting.delete(laneKey);
  }

  private checkLane(lane: LaneState, rule: RuleOf<'absence'>, wallNow: number, events: AlertEvent[]): void {
    while (lane.heap.length > 0) {
      const [key, id] = lane.heap[0]!;
      const v = this.vehicles.get(id);
      if (v === undefined || v.absenceKey !== key || v.lastTs === null || this.laneOf(v.lane) !== lane) {
        heapPop(lane.heap); // stale: the vehicle has sent since, or moved to another lane
        continue;
      }
      if (lane.watermark - key <= rule.after) return;
      heapPop(lane.heap);
      const openedAt = v.lastTs + rule.after;
      this.absenceSignal(v, id, true, openedAt, { vehicleId: id, gatewayId: v.gatewayId, ts: openedAt, detectedAt: wallNow, lateByMs: 0, lateAfterMs: this.pack.lateAfter }, events);
    }
  }

  private absenceSignal(v: VehicleState, vehicleId: string, active: boolean, ts: number, at: Occasion, events: AlertEvent[]): void {
    const rule = this.absence!;
    const sig: Signal = { subject: ABSENCE_SUBJECT, active, value: null, threshold: rule.after, describe: () => (active ? `no records for ${Math.round(rule.after / 1000)} s while the gateway's other vehicles report` : 'reporting again') };
    this.emit(v, rule.id, sig, { ...at, vehicleId, ts }, events);
  }

  private gatewaySignal(g: GatewayState, gatewayId: string, active: boolean, ts: number, wallNow: number, events: AlertEvent[]): void {
    const rule = this.absence!;
    const meta = this.gatewayMeta();
    const sig: Signal = { subject: '', active, value: null, threshold: rule.gatewayAfter, describe: () => (active ? `no heartbeat for ${Math.round(rule.gatewayAfter / 1000)} s` : 'heartbeats again') };
    const e = stepEpisode(g.offline, meta, sig, { vehicleId: '', gatewayId, ts, detectedAt: wallNow, lateByMs: 0, lateAfterMs: this.pack.lateAfter }, this.pack.updateEvery);
    if (e !== undefined) events.push(e);
  }

  /** gateway_offline alerts: the absence rule's severity, cleared as soon as heartbeats come back. */
  private gatewayMeta(): RuleMeta {
    return { id: 'gateway_offline', category: 'gateway_offline', severity: this.absence!.severity, cooldown: 0 };
  }

  private emit(v: VehicleState, ruleId: string, sig: Signal, at: Occasion, events: AlertEvent[]): void {
    // The usual case: nothing open and nothing starts (a subject without an open episode has no state worth keeping).
    if (!sig.active && v.episodes[ruleId]?.[sig.subject]?.open == null) return;
    const subjects = (v.episodes[ruleId] ??= {});
    const st = (subjects[sig.subject] ??= newSubjectState());
    const e = stepEpisode(st, this.metas.get(ruleId)!, sig, at, this.pack.updateEvery);
    if (e !== undefined) events.push(e);
  }

  /** Evaluators are shared by every vehicle with the same limits for the rule (state lives with the vehicle). */
  private evaluatorFor(rule: Rule, ref: { class: string; overrides: Readonly<Record<string, number>> } | undefined): Evaluator<unknown> | undefined {
    const own = ref !== undefined && (rule.byClass?.[ref.class] !== undefined || `${rule.id}.value` in ref.overrides || `${rule.id}.clearValue` in ref.overrides || `${rule.id}.threshold` in ref.overrides);
    const key = own ? `${rule.id}\u0000${JSON.stringify(limitsOf(rule, ref.class, ref.overrides))}` : rule.id;
    let ev = this.evaluators.get(key);
    if (ev === undefined) {
      ev = own ? evaluatorOf(rule, limitsOf(rule, ref.class, ref.overrides)) : evaluatorOf(rule, limitsOf(rule, undefined));
      if (ev !== undefined) this.evaluators.set(key, ev);
    }
    return ev;
  }
}

/** `gw/critical-0/3` → `gw/normal-0/3`: the lane a critical record's predecessors may still come by; undefined for other lanes. */
function normalLaneOf(lane: string): string | undefined {
  const i = lane.indexOf('/critical-');
  return i < 0 ? undefined : `${lane.slice(0, i)}/normal-${lane.slice(i + '/critical-'.length)}`;
}

function holdsField(c: { field: keyof Sample['t'] & string; op: '>' | '>=' | '<' | '<='; value: number }, s: Sample): boolean {
  const x = s.t[c.field as 'speedKph'];
  return c.op === '>' ? x > c.value : c.op === '>=' ? x >= c.value : c.op === '<' ? x < c.value : x <= c.value;
}


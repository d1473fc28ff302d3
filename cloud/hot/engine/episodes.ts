import { alertIdOf, type AlertEvent, type Severity } from '../../../shared/alerts/index.js';
import type { Signal } from './sample.js';

/**
 * Episodes: a rule's Signals for one subject become alert events. An episode opens when the
 * signal turns active, emits `updated` when its value changed and `updateEvery` of device time
 * went by, and clears once the signal has stayed inactive for the rule's cooldown (device
 * time; `clearedAt` is when it turned inactive). A signal that comes back within the cooldown
 * goes on in the same episode: a flapping signal makes one alert, not a string of them, and no
 * opening is ever delayed. Operators' acks and clears change the state it reports
 * (applyOperator), not the episode's life: an operator-cleared episode that is still active
 * stays closed until the signal clears (then a later one may open).
 */
export interface EpisodeState {
  alertId: string;
  openedAt: number;
  value: number | null;
  threshold: number | null;
  message: string;
  lastUpdateAt: number;
  ack: AlertEvent['ack'];
  operatorClear: AlertEvent['operatorClear'];
  late: boolean;
  lateByMs: number;
}

export interface SubjectState {
  open: EpisodeState | null;
  /** Device time the open episode's signal turned inactive; it clears when this is a cooldown old. */
  inactiveSince: number | null;
}

export interface RuleMeta {
  id: string;
  category: string;
  severity: Severity;
  cooldown: number;
}

export interface Occasion {
  /** vehicleId (empty for gateway alerts) and gateway. */
  vehicleId: string;
  gatewayId: string;
  /** Device time of the sample (or the moment) the signal is about. */
  ts: number;
  detectedAt: number;
  lateByMs: number;
  lateAfterMs: number;
}

export function newSubjectState(): SubjectState {
  return { open: null, inactiveSince: null };
}

export function stepEpisode(state: SubjectState, rule: RuleMeta, sig: Signal, at: Occasion, updateEveryMs: number): AlertEvent | undefined {
  const ep = state.open;
  if (sig.active) {
    state.inactiveSince = null;
    if (ep === null) {
      const late = at.lateByMs > at.lateAfterMs;
      const opened: EpisodeState = {
        alertId: alertIdOf(at.vehicleId === '' ? `gateway:${at.gatewayId}` : at.vehicleId, rule.id, sig.subject, at.ts),
        openedAt: at.ts,
        value: sig.value,
        threshold: sig.threshold,
        message: sig.describe(),
        lastUpdateAt: at.ts,
        ack: null,
        operatorClear: null,
        late,
        lateByMs: late ? Math.round(at.lateByMs) : 0,
      };
      state.open = opened;
      return eventOf(opened, rule, sig.subject, at, 'opened', null);
    }
    if (ep.operatorClear !== null || sig.value === ep.value || at.ts - ep.lastUpdateAt < updateEveryMs) return undefined;
    ep.value = sig.value;
    ep.threshold = sig.threshold;
    ep.message = sig.describe();
    ep.lastUpdateAt = at.ts;
    return eventOf(ep, rule, sig.subject, at, 'updated', null);
  }
  if (ep === null) return undefined;
  state.inactiveSince ??= at.ts;
  if (at.ts - state.inactiveSince < rule.cooldown) return undefined;
  const clearedAt = state.inactiveSince;
  state.open = null;
  state.inactiveSince = null;
  if (ep.operatorClear !== null) return undefined; // already closed by hand; its event went out then
  return eventOf({ ...ep, message: sig.describe() }, rule, sig.subject, at, 'cleared', clearedAt);
}

/** An operator's ack or clear of an open episode; undefined when the alert is not open here (already cleared, or never). */
export function applyOperator(state: SubjectState, rule: RuleMeta, subject: string, cmd: { action: 'ack' | 'clear'; by: string; at: number; note?: string }, at: Occasion): AlertEvent | undefined {
  const ep = state.open;
  if (ep === null || ep.operatorClear !== null) return undefined;
  const who = { by: cmd.by, at: cmd.at, ...(cmd.note === undefined ? {} : { note: cmd.note }) };
  if (cmd.action === 'ack') {
    if (ep.ack !== null) return undefined;
    ep.ack = who;
    return eventOf(ep, rule, subject, at, 'acked', null);
  }
  ep.operatorClear = who;
  return eventOf(ep, rule, subject, at, 'operator-cleared', null);
}

function eventOf(ep: EpisodeState, rule: RuleMeta, subject: string, at: Occasion, change: AlertEvent['change'], clearedAt: number | null): AlertEvent {
  const state: AlertEvent['state'] = change === 'cleared' || ep.operatorClear !== null ? 'cleared' : ep.ack !== null ? 'ack' : 'open';
  return {
    alertId: ep.alertId,
    vehicleId: at.vehicleId,
    gatewayId: at.gatewayId,
    rule: rule.id,
    subject,
    category: rule.category,
    severity: rule.severity,
    state,
    change,
    openedAt: ep.openedAt,
    clearedAt,
    detectedAt: at.detectedAt,
    value: ep.value,
    threshold: ep.threshold,
    message: ep.message,
    late: ep.late,
    lateByMs: ep.lateByMs,
    ack: ep.ack,
    operatorClear: ep.operatorClear,
  };
}

import type { Condition, NumericField, Rule, RuleOf } from '../rules/schema.js';
import { distanceKm } from './geo.js';
import type { Sample, Signal } from './sample.js';

/**
 * One evaluator per rule kind: a pure step function over a small, JSON-serialisable state
 * (it goes into the changelog as it is). `step` sees a vehicle's samples in device-time
 * order, one at a time, and returns a Signal for each subject it has a verdict on; the
 * episode layer (episodes.ts) turns changes of `active` into alert events.
 */
export interface Evaluator<S> {
  init(): S;
  step(state: S, sample: Sample): Signal[];
}

/** The rule's numbers after the vehicle's class overrides (`byClass`). */
export interface Limits {
  value: number;
  clearValue: number | undefined;
  threshold: number;
}

const fmt = (x: number) => String(Math.round(x * 100) / 100);

export function holds(c: Pick<Condition, 'op' | 'value'>, x: number): boolean {
  switch (c.op) {
    case '>':
      return x > c.value;
    case '>=':
      return x >= c.value;
    case '<':
      return x < c.value;
    case '<=':
      return x <= c.value;
  }
}

const fieldOf = (s: Sample, f: NumericField): number => s.t[f];

/** Threshold with hysteresis: opens when `field op value`, clears once past `clearValue` the other way. */
export function threshold(rule: RuleOf<'threshold'>, limits: Limits): Evaluator<{ active: boolean }> {
  const above = rule.op === '>' || rule.op === '>=';
  const clear = limits.clearValue ?? limits.value;
  return {
    init: () => ({ active: false }),
    step(state, s) {
      const x = fieldOf(s, rule.field);
      if (!state.active) state.active = holds({ op: rule.op, value: limits.value }, x);
      else if (above ? x < clear : x > clear) state.active = false;
      return [{ subject: '', active: state.active, value: x, threshold: limits.value, describe: () => `${rule.field} ${fmt(x)} ${rule.op} ${fmt(limits.value)}` }];
    },
  };
}

/** The condition held without a break for at least `for` of device time. */
export function sustained(rule: RuleOf<'sustained'>, limits: Limits): Evaluator<{ since: number | null }> {
  return {
    init: () => ({ since: null }),
    step(state, s) {
      const x = fieldOf(s, rule.field);
      if (holds({ op: rule.op, value: limits.value }, x)) state.since ??= s.t.ts;
      else state.since = null;
      const active = state.since !== null && s.t.ts - state.since >= rule.for;
      return [{ subject: '', active, value: x, threshold: limits.value, describe: () => `${rule.field} ${fmt(x)} ${rule.op} ${fmt(limits.value)} for ${Math.round((state.since === null ? 0 : s.t.ts - state.since) / 1000)} s` }];
    },
  };
}

/**
 * Events (matching samples, or runs of them) counted in event-time windows that start every
 * `hop` (tumbling when hop = window). Active while a window holding the sample's time has more
 * events than the threshold.
 */
export function windowCount(rule: RuleOf<'window_count'>, limits: Limits): Evaluator<{ inRun: boolean; windows: Record<string, number> }> {
  const hop = rule.hop ?? rule.window;
  return {
    init: () => ({ inRun: false, windows: {} }),
    step(state, s) {
      const ts = s.t.ts;
      const match = holds({ op: rule.op, value: rule.value }, fieldOf(s, rule.field));
      const event = rule.count === 'samples' ? match : match && !state.inRun;
      state.inRun = match;
      // (for..in, not Object.keys: no array per sample; most vehicles have no window open)
      for (const k in state.windows) if (Number(k) + rule.window <= ts) delete state.windows[k];
      if (event) {
        for (let w = Math.floor(ts / hop) * hop; w > ts - rule.window; w -= hop) state.windows[w] = (state.windows[w] ?? 0) + 1;
      }
      let max = 0;
      for (const k in state.windows) if (Number(k) <= ts) max = Math.max(max, state.windows[k]!);
      return [{ subject: '', active: max > limits.threshold, value: max, threshold: limits.threshold, describe: () => `${max} × ${rule.field} ${rule.op} ${fmt(rule.value)} in ${Math.round(rule.window / 1000)} s (more than ${limits.threshold})` }];
    },
  };
}

/**
 * Rate of change between the newest sample and one about `window` older, in units per `per`.
 * History is thinned to one point per window/20, so the state stays small at any rate.
 */
export function rateOfChange(rule: RuleOf<'rate_of_change'>, limits: Limits): Evaluator<{ points: [number, number][]; active: boolean }> {
  const spacing = Math.max(1, Math.floor(rule.window / 20));
  return {
    init: () => ({ points: [], active: false }),
    step(state, s) {
      const ts = s.t.ts;
      const x = fieldOf(s, rule.field);
      const last = state.points.at(-1);
      if (last === undefined || ts - last[0] >= spacing) state.points.push([ts, x]);
      // Keep the newest point at least `window` old (the anchor) and everything after it.
      while (state.points.length > 1 && state.points[1]![0] <= ts - rule.window) state.points.shift();
      const anchor = state.points[0]!;
      if (ts - anchor[0] < rule.window) return []; // not enough history yet: no verdict
      const perUnit = ((x - anchor[1]) / (ts - anchor[0])) * rule.per;
      const speed = rule.direction === 'falling' ? -perUnit : perUnit;
      state.active = speed > limits.threshold;
      const unit = `per ${Math.round(rule.per / 60_000)} min`;
      return [{ subject: '', active: state.active, value: Math.round(speed * 1000) / 1000, threshold: limits.threshold, describe: () => `${rule.field} ${rule.direction} ${fmt(speed)} ${unit} (limit ${fmt(limits.threshold)})` }];
    },
  };
}

/** A trouble code raised: one subject per code, active while the code is in `dtcs`. */
export function dtc(rule: RuleOf<'dtc'>): Evaluator<{ codes: string[] }> {
  const wanted = (code: string) => rule.codes === undefined || rule.codes.some((p) => code.startsWith(p));
  return {
    init: () => ({ codes: [] }),
    step(state, s) {
      const now = [...new Set(s.t.dtcs.filter(wanted))].sort();
      const out: Signal[] = [];
      for (const code of now) out.push({ subject: code, active: true, value: 1, threshold: null, describe: () => `trouble code ${code}` });
      for (const code of state.codes) if (!now.includes(code)) out.push({ subject: code, active: false, value: 0, threshold: null, describe: () => `trouble code ${code} gone` });
      state.codes = now;
      return out;
    },
  };
}

/** A field repeating one value for `samples` consecutive samples while the engine runs. */
export function stuck(rule: RuleOf<'stuck'>): Evaluator<Record<string, { value: number; count: number }>> {
  return {
    init: () => ({}),
    step(state, s) {
      if (s.t.engineRpm <= 0) return []; // an engine that is off may hold its readings
      return rule.fields.map((f) => {
        const x = fieldOf(s, f);
        let cur = state[f];
        if (cur === undefined) state[f] = cur = { value: x, count: 1 };
        else if (cur.value === x) cur.count++;
        else {
          cur.value = x;
          cur.count = 1;
        }
        const count = cur.count;
        return { subject: f, active: count >= rule.samples, value: count, threshold: rule.samples, describe: () => `${f} stuck at ${fmt(x)} for ${count} samples` };
      });
    },
  };
}

/**
 * An implausible jump: the position moved faster than `maxSpeedKph` from the last plausible
 * one. Active until a sample is plausible again from there; if MAX_SUSPECT samples in a row are
 * not, the vehicle really is elsewhere (it was carried, or the last fix was wrong) and the
 * newest position is taken as plausible.
 */
const MAX_SUSPECT = 5;
export function jump(rule: RuleOf<'jump'>): Evaluator<{ good: { lat: number; lon: number; ts: number } | null; suspect: number }> {
  return {
    init: () => ({ good: null, suspect: 0 }),
    step(state, s) {
      const pos = { lat: s.t.position.lat, lon: s.t.position.lon, ts: s.t.ts };
      if (state.good === null) {
        state.good = pos;
        return [];
      }
      const km = distanceKm(state.good, pos);
      const hours = Math.max(1, pos.ts - state.good.ts) / 3_600_000;
      const kph = km / hours;
      const implausible = km >= rule.minDistanceKm && kph > rule.maxSpeedKph;
      if (implausible && state.suspect < MAX_SUSPECT) state.suspect++;
      else {
        state.good = pos;
        state.suspect = 0;
      }
      const active = state.suspect > 0;
      return [{ subject: '', active, value: Math.round(kph), threshold: rule.maxSpeedKph, describe: () => `position moved ${fmt(km)} km at ${Math.round(kph)} km/h (limit ${rule.maxSpeedKph})` }];
    },
  };
}

/** The evaluator of a rule (absence is the engine's: it needs more than one vehicle's samples). */
export function evaluatorOf(rule: Rule, limits: Limits): Evaluator<unknown> | undefined {
  switch (rule.kind) {
    case 'threshold':
      return threshold(rule, limits) as Evaluator<unknown>;
    case 'sustained':
      return sustained(rule, limits) as Evaluator<unknown>;
    case 'window_count':
      return windowCount(rule, limits) as Evaluator<unknown>;
    case 'rate_of_change':
      return rateOfChange(rule, limits) as Evaluator<unknown>;
    case 'dtc':
      return dtc(rule) as Evaluator<unknown>;
    case 'stuck':
      return stuck(rule) as Evaluator<unknown>;
    case 'jump':
      return jump(rule) as Evaluator<unknown>;
    case 'absence':
      return undefined;
  }
}

/** A rule's numbers for a vehicle class, then the vehicle's own overrides (`{rule id}.value` ...). */
export function limitsOf(rule: Rule, cls: string | undefined, overrides: Readonly<Record<string, number>> = {}): Limits {
  const o = cls === undefined ? undefined : rule.byClass?.[cls];
  const value = 'value' in rule && typeof rule.value === 'number' ? rule.value : 0;
  const threshold = 'threshold' in rule && typeof rule.threshold === 'number' ? rule.threshold : 0;
  const clearValue = rule.kind === 'threshold' ? rule.clearValue : undefined;
  return {
    value: overrides[`${rule.id}.value`] ?? o?.value ?? value,
    clearValue: overrides[`${rule.id}.clearValue`] ?? o?.clearValue ?? clearValue,
    threshold: overrides[`${rule.id}.threshold`] ?? o?.threshold ?? threshold,
  };
}

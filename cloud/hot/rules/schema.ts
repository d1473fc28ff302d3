import { z } from 'zod';
import { SEVERITIES } from '../../../shared/alerts/index.js';

/**
 * The rule pack: a YAML file (`roadlog hot check-rules FILE` validates it; the default is
 * `default.yaml` beside this file). Each rule has an id, a kind, a category (the fault it
 * points at: the simulator's vocabulary or any name) and a severity; the kind says what else
 * it needs. Durations are written `90s`, `2m`, `1h`, `1h30m`, or a number of milliseconds;
 * every duration and window is in device time (the records' `ts`).
 */

/** Numeric telemetry fields a rule may watch. */
export const NUMERIC_FIELDS = ['speedKph', 'longAccelMps2', 'engineRpm', 'coolantC', 'oilPressureKpa', 'oilLevelPct', 'fuelLevelPct', 'fuelUsedL', 'odometerKm', 'batteryV'] as const;
export type NumericField = (typeof NUMERIC_FIELDS)[number];

const DURATION = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;

/** `2m` → 120000; a number is milliseconds. */
export const Duration = z.union([z.number(), z.string()]).transform((v, ctx): number => {
  if (typeof v === 'number') {
    if (Number.isInteger(v) && v >= 0) return v;
    ctx.addIssue({ code: 'custom', message: `expected a whole number of milliseconds ≥ 0, got ${v}` });
    return z.NEVER;
  }
  const m = DURATION.exec(v.trim());
  if (m === null || (m[1] === undefined && m[2] === undefined && m[3] === undefined)) {
    ctx.addIssue({ code: 'custom', message: `expected a duration like 90s, 2m, 1h or 1h30m (or milliseconds), got ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  return ((Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0)) * 60 + Number(m[3] ?? 0)) * 1000;
});

const Field = z.enum(NUMERIC_FIELDS);
const Op = z.enum(['>', '>=', '<', '<=']);

/** `field op value`: a condition on one sample. */
export const ConditionSchema = z.object({ field: Field, op: Op, value: z.number() }).strict();
export type Condition = z.infer<typeof ConditionSchema>;

const base = {
  id: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'expected 1-64 characters of a-z 0-9 _ - starting with a letter or digit'),
  category: z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'expected a lower-case name like overheating or oil_leak'),
  severity: z.enum(SEVERITIES),
  description: z.string().max(500).optional(),
  /** The rule looks only at samples where all of these hold (`engineRpm > 0`: the engine runs); other samples leave its state as it is. */
  while: z.array(ConditionSchema).optional(),
  /**
   * An episode clears only once its condition has been false for this long (device time); if
   * it comes back meanwhile, the same episode goes on: a flapping signal makes one alert.
   * (Absence and gateway_offline clear as soon as records or heartbeats come back.)
   */
  cooldown: Duration.default(60_000),
  /**
   * Per vehicle class (`car`, `van`, `truck`, or a class of the vehicles table): values that
   * replace the rule's `value` / `clearValue` / `threshold`.
   */
  byClass: z.record(z.string(), z.object({ value: z.number().optional(), clearValue: z.number().optional(), threshold: z.number().optional() }).strict()).optional(),
};

export const ThresholdRuleSchema = z
  .object({
    ...base,
    kind: z.literal('threshold'),
    ...ConditionSchema.shape,
    /** Hysteresis: the episode clears when the value is past this the other way (below it for `>`). Default: `value`. */
    clearValue: z.number().optional(),
  })
  .strict();

export const SustainedRuleSchema = z
  .object({ ...base, kind: z.literal('sustained'), ...ConditionSchema.shape, for: Duration })
  .strict();

export const WindowCountRuleSchema = z
  .object({
    ...base,
    kind: z.literal('window_count'),
    /** The condition one event is made of. */
    ...ConditionSchema.shape,
    /** `runs`: a run of consecutive matching samples is one event (a harsh brake); `samples`: each matching sample. */
    count: z.enum(['runs', 'samples']).default('runs'),
    /** The episode opens when a window holds more events than this. */
    threshold: z.number().int().min(0),
    window: Duration,
    /** Hopping windows start every `hop`; unset: tumbling (hop = window). */
    hop: Duration.optional(),
  })
  .strict();

export const RateOfChangeRuleSchema = z
  .object({
    ...base,
    kind: z.literal('rate_of_change'),
    field: Field,
    direction: z.enum(['falling', 'rising']),
    /** The episode opens when the field moves faster than this many units per `per`. */
    threshold: z.number().positive(),
    per: Duration.default(3_600_000),
    /** Measured between the newest sample and the oldest within this span (at least this much history is needed). */
    window: Duration,
  })
  .strict();

export const DtcRuleSchema = z
  .object({
    ...base,
    kind: z.literal('dtc'),
    /** Only these codes (prefixes: `P03` matches P0300-P03FF); unset: every code. */
    codes: z.array(z.string().regex(/^[PCBU][0-9A-F]{0,4}$/)).optional(),
  })
  .strict();

export const StuckRuleSchema = z
  .object({
    ...base,
    kind: z.literal('stuck'),
    fields: z.array(Field).min(1),
    /** Opens when a field has the same value for this many consecutive samples with the engine running. */
    samples: z.number().int().min(2),
  })
  .strict();

export const JumpRuleSchema = z
  .object({
    ...base,
    kind: z.literal('jump'),
    /** Faster than this between two samples is a jump, not driving. */
    maxSpeedKph: z.number().positive(),
    /** Moves shorter than this never count (GPS noise at a standstill). */
    minDistanceKm: z.number().min(0).default(0.5),
  })
  .strict();

export const AbsenceRuleSchema = z
  .object({
    ...base,
    kind: z.literal('absence'),
    /** A vehicle is silent once its newest record is this much older than its gateway's other vehicles' (device time). */
    after: Duration,
    /** A gateway whose heartbeats stopped for this long (wall time) raises one `gateway_offline` alert instead. */
    gatewayAfter: Duration.default(60_000),
  })
  .strict();

export const RuleSchema = z.discriminatedUnion('kind', [ThresholdRuleSchema, SustainedRuleSchema, WindowCountRuleSchema, RateOfChangeRuleSchema, DtcRuleSchema, StuckRuleSchema, JumpRuleSchema, AbsenceRuleSchema]);
export type Rule = z.output<typeof RuleSchema>;
export type RuleKind = Rule['kind'];
export type RuleOf<K extends RuleKind> = Extract<Rule, { kind: K }>;

export const RulePackSchema = z
  .object({
    version: z.literal(1),
    /** How far out of order (device time) a vehicle's records may arrive and still be evaluated in order. */
    allowedLateness: Duration.default(10_000),
    /** An alert is `late` when its record reached the hot path this much after it was due (see AlertEvent.lateByMs). */
    lateAfter: Duration.default(5_000),
    /** An open episode whose value changed emits an `updated` event at most this often (device time). */
    updateEvery: Duration.default(60_000),
    rules: z.array(RuleSchema).min(1),
  })
  .strict()
  .superRefine((pack, ctx) => {
    const seen = new Map<string, number>();
    pack.rules.forEach((r, i) => {
      const first = seen.get(r.id);
      if (first !== undefined) ctx.addIssue({ code: 'custom', path: ['rules', i, 'id'], message: `duplicate rule id ${JSON.stringify(r.id)} (also rules.${first})` });
      seen.set(r.id, i);
      if (r.kind === 'threshold' && r.clearValue !== undefined) {
        const above = r.op === '>' || r.op === '>=';
        if (above ? r.clearValue > r.value : r.clearValue < r.value) ctx.addIssue({ code: 'custom', path: ['rules', i, 'clearValue'], message: `expected ${above ? 'at most' : 'at least'} value (${r.value}) for hysteresis, got ${r.clearValue}` });
      }
      if (r.kind === 'window_count' && r.hop !== undefined && (r.hop <= 0 || r.hop > r.window || r.window % r.hop !== 0)) {
        ctx.addIssue({ code: 'custom', path: ['rules', i, 'hop'], message: `expected a hop above 0 that divides the window (${r.window} ms), got ${r.hop} ms` });
      }
      if ((r.kind === 'window_count' || r.kind === 'rate_of_change') && r.window <= 0) ctx.addIssue({ code: 'custom', path: ['rules', i, 'window'], message: 'expected a window above 0' });
    });
    if (pack.rules.filter((r) => r.kind === 'absence').length > 1) ctx.addIssue({ code: 'custom', path: ['rules'], message: 'expected at most one absence rule' });
  });

export type RulePack = z.output<typeof RulePackSchema>;

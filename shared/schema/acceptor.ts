import type { z } from 'zod';

/**
 * A fast "yes" compiled from a zod schema.
 *
 * zod validates a telemetry record in about 3 µs, a tenth of the edge agent's CPU at full load,
 * most of it spent on a result object per field. `compileAcceptor` turns the same zod schema
 * into one straight-line JavaScript test (`typeof v.seq === "number" && Number.isSafeInteger(...)
 * && v.seq >= 0 && ...`). It only ever says yes or "ask zod":
 *
 *  - true: the value is valid, and zod would return it unchanged (so the caller may use it as
 *    it is, without zod's copy);
 *  - false: not known; the caller runs zod, which decides and names the failing field.
 *
 * So zod stays the contract: the acceptor is never more lenient, only quicker on the common
 * path. It is at least as strict as zod by construction: plain objects only, exactly the
 * schema's keys, finite numbers, and it supports only the schema parts it fully understands
 * (strict objects, numbers with min/max/int, literals, strings with regex and length checks,
 * arrays with length checks). A schema with anything else (optional fields, defaults,
 * transforms, refinements, unions, stripped objects) compiles to `undefined`: zod alone then.
 * test/shared/schema/acceptor.test.ts checks, on generated and mutated records, that every
 * value the acceptor takes is one zod takes and returns unchanged.
 */
export type Acceptor = (value: unknown) => boolean;

interface Def {
  type: string;
  check?: string;
  format?: string;
  checks?: { _zod: { def: CheckDef } }[];
  shape?: Record<string, { _zod: { def: Def } }>;
  catchall?: { _zod: { def: Def } };
  element?: { _zod: { def: Def } };
  values?: unknown[];
}

interface CheckDef {
  check: string;
  value?: unknown;
  inclusive?: boolean;
  format?: string;
  pattern?: RegExp;
  maximum?: number;
  minimum?: number;
}

class Unsupported extends Error {}

/** The acceptor for `schema`, or undefined when the schema uses something it does not support. */
export function compileAcceptor(schema: z.ZodType): Acceptor | undefined {
  const regexes: RegExp[] = [];
  let vars = 0;
  const fresh = (): string => `v${vars++}`;

  const num = (n: unknown): string => {
    if (typeof n !== 'number' || !Number.isFinite(n)) throw new Unsupported();
    return Object.is(n, -0) ? '0' : String(n);
  };

  /** A JavaScript expression, true only when `x` (an identifier) passes `def` unchanged. */
  const test = (def: Def, x: string): string => {
    // A constraint on the schema itself (z.int(), z.email(), z.iso.datetime(), ...) rather than
    // in its `checks`: not understood here, so zod decides.
    if (def.check !== undefined || def.format !== undefined) throw new Unsupported();
    const parts: string[] = [];
    const checks = (def.checks ?? []).map((c) => c._zod.def);
    switch (def.type) {
      case 'number':
        parts.push(`typeof ${x} === "number"`, `Number.isFinite(${x})`);
        for (const c of checks) {
          if (c.check === 'greater_than') parts.push(`${x} ${c.inclusive === true ? '>=' : '>'} ${num(c.value)}`);
          else if (c.check === 'less_than') parts.push(`${x} ${c.inclusive === true ? '<=' : '<'} ${num(c.value)}`);
          else if (c.check === 'number_format' && (c.format === 'safeint' || c.format === 'int32' || c.format === 'uint32')) {
            parts.push(`Number.isSafeInteger(${x})`);
            if (c.format === 'int32') parts.push(`${x} >= -2147483648`, `${x} <= 2147483647`);
            if (c.format === 'uint32') parts.push(`${x} >= 0`, `${x} <= 4294967295`);
          } else throw new Unsupported();
        }
        break;
      case 'string':
        parts.push(`typeof ${x} === "string"`);
        for (const c of checks) {
          if (c.check === 'string_format' && c.format === 'regex' && c.pattern instanceof RegExp && !c.pattern.global && !c.pattern.sticky) {
            regexes.push(c.pattern);
            parts.push(`re[${regexes.length - 1}].test(${x})`);
          } else if (c.check === 'max_length') parts.push(`${x}.length <= ${num(c.maximum)}`);
          else if (c.check === 'min_length') parts.push(`${x}.length >= ${num(c.minimum)}`);
          else throw new Unsupported();
        }
        break;
      case 'literal': {
        const values = def.values ?? [];
        if (checks.length > 0 || values.length === 0) throw new Unsupported();
        const alternatives = values.map((v) => {
          if (typeof v === 'string' || typeof v === 'boolean' || v === null) return `${x} === ${JSON.stringify(v)}`;
          return `${x} === ${num(v)}`;
        });
        parts.push(`(${alternatives.join(' || ')})`);
        break;
      }
      case 'array': {
        if (def.element === undefined) throw new Unsupported();
        parts.push(`Array.isArray(${x})`);
        for (const c of checks) {
          if (c.check === 'max_length') parts.push(`${x}.length <= ${num(c.maximum)}`);
          else if (c.check === 'min_length') parts.push(`${x}.length >= ${num(c.minimum)}`);
          else throw new Unsupported();
        }
        const i = fresh();
        const e = fresh();
        parts.push(`((a) => { for (let ${i} = 0; ${i} < a.length; ${i}++) { const ${e} = a[${i}]; if (!(${test(def.element._zod.def, e)})) return false; } return true; })(${x})`);
        break;
      }
      case 'object': {
        // Strict objects only (catchall never): a stripped object's output differs from its input.
        if (checks.length > 0 || def.shape === undefined || def.catchall?._zod.def.type !== 'never') throw new Unsupported();
        const keys = Object.keys(def.shape);
        const n = fresh();
        const k = fresh();
        // A plain object with exactly these keys: every enumerable key, inherited ones included,
        // is one of the schema's, and there are as many as the schema has; the field tests below
        // fail on undefined. (A key inherited from a polluted Object.prototype is either
        // enumerable, and counted, or not, and then the count falls short.)
        const cases = keys.map((key) => `case ${JSON.stringify(key)}: `).join('');
        parts.push(
          `${x} !== null`,
          `typeof ${x} === "object"`,
          `Object.getPrototypeOf(${x}) === Object.prototype`,
          `((o) => { let ${n} = 0; for (const ${k} in o) { switch (${k}) { ${cases}break; default: return false; } ${n}++; } return ${n} === ${keys.length}; })(${x})`,
        );
        for (const key of keys) {
          const field = fresh();
          parts.push(`((${field}) => ${test(def.shape[key]!._zod.def, field)})(${x}[${JSON.stringify(key)}])`);
        }
        break;
      }
      default:
        throw new Unsupported();
    }
    return parts.join(' && ');
  };

  try {
    const body = `return (value) => ${test((schema as unknown as { _zod: { def: Def } })._zod.def, 'value')};`;
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- code made from the schema's own definition, no outside input
    return new Function('re', body)(regexes) as Acceptor;
  } catch (err) {
    if (err instanceof Unsupported) return undefined;
    throw err;
  }
}

import type { z } from 'zod';

/** One validation problem, with the dotted path of the field it is about. */
export interface FieldIssue {
  path: string;
  message: string;
}

/** `speedKph: expected a number ≤ 400, got 512; dtcs.0: ...` */
export function formatIssues(issues: readonly FieldIssue[]): string {
  return issues.map((i) => `${i.path}: ${i.message}`).join('; ');
}

/** Turn a zod error into field issues whose messages say what was expected and what came. */
export function toFieldIssues(error: z.ZodError, input: unknown): FieldIssue[] {
  return error.issues.flatMap((issue) => {
    if (issue.code === 'unrecognized_keys') {
      // One issue per unknown key, named by its own path: `speedKmh: unknown key`.
      return issue.keys.map((key) => ({ path: pathOf([...issue.path, key]), message: 'unknown key (not in the schema; check the spelling and units)' }));
    }
    const got = valueAt(input, issue.path);
    return [{ path: pathOf(issue.path), message: issueMessage(issue, got !== undefined && isSecretKey(issue.path.at(-1)) ? SECRET : got) }];
  });
}

/** Keys whose values never appear in a message (`kafka.sasl.password: expected a string, got a secret`). */
function isSecretKey(key: PropertyKey | undefined): boolean {
  return typeof key === 'string' && /^(password|secret|token)$/i.test(key);
}

/** Stands in for a secret value: `describe` renders it without the value. */
const SECRET: unique symbol = Symbol('secret');

function pathOf(path: readonly PropertyKey[]): string {
  return path.length === 0 ? '(root)' : path.map(String).join('.');
}

function issueMessage(issue: z.core.$ZodIssue, got: unknown): string {
  switch (issue.code) {
    case 'invalid_type':
      return `expected ${article(issue.expected)}, got ${got === undefined ? 'nothing' : describe(got)}`;
    case 'too_small':
      return issue.origin === 'array' || issue.origin === 'string'
        ? `expected at least ${String(issue.minimum)} ${issue.origin === 'array' ? 'items' : 'characters'}, got ${describe(got)}`
        : `expected a number ${issue.inclusive ? '≥' : '>'} ${String(issue.minimum)}, got ${describe(got)}`;
    case 'too_big':
      return issue.origin === 'array' || issue.origin === 'string'
        ? `expected at most ${String(issue.maximum)} ${issue.origin === 'array' ? 'items' : 'characters'}, got ${lengthOf(got)}`
        : `expected a number ${issue.inclusive ? '≤' : '<'} ${String(issue.maximum)}, got ${describe(got)}`;
    case 'invalid_value':
      return `expected ${issue.values.map((v) => JSON.stringify(v)).join(' or ')}, got ${describe(got)}`;
    case 'invalid_format':
      return `${issue.message}, got ${describe(got)}`;
    default:
      return `${issue.message}${got === undefined ? '' : `, got ${describe(got)}`}`;
  }
}

function article(expected: string): string {
  const names: Record<string, string> = { int: 'an integer', number: 'a number', string: 'a string', object: 'an object', array: 'an array', boolean: 'a boolean' };
  return names[expected] ?? expected;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = input;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}

function lengthOf(value: unknown): string {
  if (value === SECRET) return describe(value);
  return Array.isArray(value) || typeof value === 'string' ? `${value.length}` : describe(value);
}

/** A short, safe rendering of a bad value for an error message. */
export function describe(value: unknown): string {
  if (value === SECRET) return 'a secret (not shown)';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return String(value);
}

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, RoadlogError } from '../../../shared/errors/index.js';

const readme = readFileSync(new URL('../../../shared/errors/README.md', import.meta.url), 'utf8');
const documented = new Map(
  [...readme.matchAll(/^\| `(ROADLOG_ERR_[A-Z_]+)` \| (yes|no) \| (\d+) \| (.+) \|$/gm)].map((m) => [m[1]!, { retriable: m[2] === 'yes', exitCode: Number(m[3]), summary: m[4] }]),
);

describe('error codes', () => {
  for (const [code, spec] of Object.entries(ERROR_CODES)) {
    it(`${code} has a line in shared/errors/README.md that matches codes.ts`, () => {
      const doc = documented.get(code);
      expect(doc, `${code} is missing from shared/errors/README.md`).toBeDefined();
      expect(doc?.retriable).toBe(spec.retriable);
      expect(doc?.exitCode).toBe(spec.exitCode);
    });
  }

  it('documents no code that does not exist', () => {
    const unknown = [...documented.keys()].filter((c) => !(c in ERROR_CODES));
    expect(unknown).toEqual([]);
  });

  it('every code follows the ROADLOG_ERR_ pattern', () => {
    for (const code of Object.keys(ERROR_CODES)) expect(code).toMatch(/^ROADLOG_ERR_[A-Z]+(_[A-Z]+)*$/);
  });

  it('RoadlogError carries the code, retriable and exit code', () => {
    const err = new RoadlogError('ROADLOG_ERR_KAFKA_UNAVAILABLE', 'down', { details: { brokers: ['x:1'] } });
    expect(err.code).toBe('ROADLOG_ERR_KAFKA_UNAVAILABLE');
    expect(err.retriable).toBe(true);
    expect(err.exitCode).toBe(1);
    expect(err.details).toEqual({ brokers: ['x:1'] });
    expect(new RoadlogError('ROADLOG_ERR_CONFIG_INVALID', 'x').exitCode).toBe(2);
  });
});

import { writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRulePack, parseRulePack, parseRulePackYaml } from '../../../../cloud/hot/rules/load.js';
import { KNOWN_CATEGORIES } from '../../../../shared/alerts/index.js';
import { runCli } from '../../../support/cli.js';

const rule = { id: 'coolant-high', kind: 'threshold', category: 'overheating', severity: 'critical', field: 'coolantC', op: '>', value: 110 };

describe('rule packs', () => {
  it('the default pack is valid and covers every fault kind of the simulator', () => {
    const pack = loadRulePack();
    const categories = new Set(pack.rules.map((r) => r.category));
    for (const c of KNOWN_CATEGORIES.filter((k) => k !== 'gateway_offline')) expect(categories, c).toContain(c);
    expect(new Set(pack.rules.map((r) => r.kind)).size).toBe(8);
  });

  it('errors name the rule (index and id) and the field', () => {
    expect(() => parseRulePack({ version: 1, rules: [rule, { ...rule, id: 'b', value: 'hot' }] })).toThrow(/rules\.1 \(b\)\.value: expected a number, got "hot"/);
    expect(() => parseRulePack({ version: 1, rules: [{ ...rule, window: '5m' }] })).toThrow(/rules\.0 \(coolant-high\)\.window: unknown key/);
    expect(() => parseRulePack({ version: 1, rules: [{ ...rule, kind: 'sustained', for: '2 minutes' }] })).toThrow(/rules\.0 \(coolant-high\)\.for: expected a duration like 90s/);
    expect(() => parseRulePack({ version: 1, rules: [rule, rule] })).toThrow(/rules\.1 \(coolant-high\)\.id: duplicate rule id/);
    expect(() => parseRulePack({ version: 1, rules: [{ ...rule, clearValue: 120 }] })).toThrow(/clearValue: expected at most value \(110\)/);
    expect(() => parseRulePack({ version: 1, rules: [{ ...rule, kind: 'window_count', op: '<=', value: -4, threshold: 3, window: '5m', hop: '2m' }] })).toThrow(/hop: expected a hop above 0 that divides the window/);
    expect(() => parseRulePackYaml('version: 1\nrules: [')).toThrow(/not valid YAML at line/);
    try {
      parseRulePack({ version: 1, rules: [{ ...rule, field: 'speedKmh' }] });
    } catch (err) {
      expect((err as { code: string }).code).toBe('ROADLOG_ERR_RULES_INVALID');
    }
  });

  it('durations are written 90s, 2m, 1h30m or milliseconds', () => {
    const p = parseRulePack({ version: 1, rules: [{ ...rule, kind: 'sustained', for: '1h30m' }, { ...rule, id: 'b', kind: 'sustained', for: 2500 }] });
    expect(p.rules.map((r) => (r.kind === 'sustained' ? r.for : 0))).toEqual([5_400_000, 2500]);
  });

  it('`roadlog hot check-rules`: exit 0 with a summary, exit 2 naming the rule and the field', async () => {
    const ok = await runCli(['hot', 'check-rules']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/9 rules valid/);
    const dir = await mkdtemp(join(tmpdir(), 'rules-'));
    const file = join(dir, 'bad.yaml');
    await writeFile(file, 'version: 1\nrules:\n  - id: hot\n    kind: threshold\n    category: overheating\n    severity: critical\n    field: coolantC\n    op: ">"\n    value: hot\n');
    const bad = await runCli(['hot', 'check-rules', file]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/ROADLOG_ERR_RULES_INVALID .*rules\.0 \(hot\)\.value: expected a number, got "hot"/);
  });
});

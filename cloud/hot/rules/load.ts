import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { RoadlogError } from '../../../shared/errors/index.js';
import { formatIssues, toFieldIssues, type FieldIssue } from '../../../shared/schema/index.js';
import { RulePackSchema, type RulePack } from './schema.js';

/** The default rule pack, shipped beside this file (copied into dist/ by the build). */
export const DEFAULT_RULES_FILE = join(dirname(fileURLToPath(import.meta.url)), 'default.yaml');

/**
 * Parses a rule pack; errors name the rule by index and id and the field:
 * `rules.2 (coolant-high).value: expected a number, got "hot"`.
 */
export function parseRulePack(input: unknown, source = 'rule pack'): RulePack {
  const r = RulePackSchema.safeParse(input);
  if (r.success) return r.data;
  const rules = (input as { rules?: unknown } | undefined)?.rules;
  const named = toFieldIssues(r.error, input).map((i): FieldIssue => ({ ...i, path: nameRule(i.path, rules) }));
  throw new RoadlogError('ROADLOG_ERR_RULES_INVALID', `${source}: ${formatIssues(named)}`, { details: { issues: named } });
}

export function parseRulePackYaml(text: string, source = 'rule pack'): RulePack {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? ` at line ${err.linePos[0].line}, column ${err.linePos[0].col}` : '';
    throw new RoadlogError('ROADLOG_ERR_RULES_INVALID', `${source} is not valid YAML${where}: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
  return parseRulePack(doc, source);
}

export function loadRulePack(file: string = DEFAULT_RULES_FILE): RulePack {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new RoadlogError('ROADLOG_ERR_RULES_INVALID', `rule pack ${file} cannot be read: ${(err as Error).message}`, { cause: err });
  }
  return parseRulePackYaml(text, `rule pack ${file}`);
}

/** `rules.2.value` → `rules.2 (coolant-high).value` when rule 2 has an id. */
function nameRule(path: string, rules: unknown): string {
  const m = /^rules\.(\d+)(\..*)?$/.exec(path);
  if (m === null || !Array.isArray(rules)) return path;
  const id = (rules[Number(m[1])] as { id?: unknown } | undefined)?.id;
  return typeof id === 'string' ? `rules.${m[1]} (${id})${m[2] ?? ''}` : path;
}

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { ColdConfigSchema } from '../../../cloud/cold/cli.js';
import { ConsoleConfigSchema } from '../../../cloud/console/options.js';
import { HotConfigSchema } from '../../../cloud/hot/cli.js';
import { InfluxConfigSchema } from '../../../cloud/influx/cli.js';
import { loadConfig } from '../../../shared/config/index.js';
import { runCli } from '../../support/cli.js';

/**
 * The example configs of the cloud components (infra/cloud/examples/): each is accepted by its
 * component's own loader (what `roadlog hot start --config` reads) and by `roadlog config check`,
 * which names the field of a broken one.
 */
const EXAMPLES = fileURLToPath(new URL('../../../infra/cloud/examples/', import.meta.url));
const schemas: Record<string, z.ZodType> = { 'hot.yaml': HotConfigSchema, 'cold.yaml': ColdConfigSchema, 'influx-sink.yaml': InfluxConfigSchema, 'console.yaml': ConsoleConfigSchema };
const dir = mkdtempSync(join(tmpdir(), 'roadlog-examples-'));
const env = { ROADLOG_HOME: dir, ROADLOG_KAFKA_BROKERS: undefined };

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('cloud example configs', () => {
  for (const [file, schema] of Object.entries(schemas)) {
    it(`${file}: its component loads it, and roadlog config check passes it`, async () => {
      expect(() => loadConfig(schema, { file: join(EXAMPLES, file), env: {} })).not.toThrow();
      const r = await runCli(['config', 'check', join(EXAMPLES, file)], { env });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.startsWith(`${join(EXAMPLES, file)}: ok (kafka, topics, log, `)).toBe(true);
    });
  }

  it('roadlog config check names the field of a broken cloud section, exit 2', async () => {
    const broken = join(dir, 'cold.yaml');
    writeFileSync(broken, readFileSync(join(EXAMPLES, 'cold.yaml'), 'utf8').replace('maxAgeMs: 300000', 'maxAgeMs: 5m'));
    const r = await runCli(['config', 'check', broken], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`cold.flush.maxAgeMs (in ${broken}): expected a number, got "5m"`);
  });
});

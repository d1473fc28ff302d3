import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MIN_NODE_MAJOR, runtimeProblem } from '../../../shared/cli/runtime.js';

describe('shared/cli/runtime', () => {
  it('refuses a Node.js older than the supported line, naming the version and the binary', () => {
    const msg = runtimeProblem('v20.20.2', '/usr/bin/node');
    expect(msg).toContain('ROADLOG_ERR_RUNTIME');
    expect(msg).toContain('v20.20.2 at /usr/bin/node');
  });

  it('takes 24 and newer', () => {
    expect(runtimeProblem('v24.0.0', '/x')).toBeUndefined();
    expect(runtimeProblem('v26.1.0', '/x')).toBeUndefined();
  });

  it('agrees with package.json engines, and the tests themselves run on a supported Node.js', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { engines: { node: string } };
    expect(pkg.engines.node).toBe(`>=${MIN_NODE_MAJOR}`);
    expect(runtimeProblem(process.version, process.execPath)).toBeUndefined();
  });
});

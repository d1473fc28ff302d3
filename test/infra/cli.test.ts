import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { isRoadlogError } from '../../shared/errors/index.js';
import { parseNodes, parsePort, registerInfraCommands } from '../../infra/cli.js';

describe('infra CLI option parsing', () => {
  it('accepts --nodes 1 or 3 only', () => {
    expect(parseNodes('1')).toBe(1);
    expect(parseNodes('3')).toBe(3);
    const err = (() => {
      try {
        parseNodes('5');
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(isRoadlogError(err, 'ROADLOG_ERR_USAGE')).toBe(true);
    expect((err as Error).message).toBe('--nodes: expected 1 or 3, got "5"');
  });

  it('accepts --port 1..65535', () => {
    expect(parsePort('9092')).toBe(9092);
    for (const bad of ['0', '65536', '-1', 'abc', '80.5']) expect(() => parsePort(bad)).toThrow(/--port: expected an integer from 1 to 65535/);
  });

  it('registers kafka, influx and mosquitto with start/stop/status', () => {
    const program = new Command('roadlog');
    registerInfraCommands(program);
    for (const name of ['kafka', 'influx', 'mosquitto']) {
      const cmd = program.commands.find((c) => c.name() === name);
      expect(cmd?.description()).not.toBe('');
      expect(cmd?.commands.map((c) => c.name())).toEqual(expect.arrayContaining(['start', 'stop', 'status']));
    }
  });
});

import { readFileSync, readdirSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, posix, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * Who may import whom (shared/README.md, "Boundaries"). Every .ts file under the source folders
 * is read for its static imports, `export ... from` and `import('...')`; a relative specifier
 * counts as an arrow to the area it lands in, a bare one as a package.
 *
 *   edge/       → edge/, shared/         the gateway installs with Node.js alone and no cloud code
 *   simulators/ → simulators/, shared/   vehicles speak MQTT, nothing of the gateway
 *   cloud/      → cloud/, shared/
 *   infra/      → infra/, shared/        it starts the real services; nothing imports it but shared/cli
 *   shared/     → shared/ (not shared/cli)
 *   shared/cli/ → anything               the `roadlog` program: it registers every side's commands
 *
 * Packages: only `dependencies` of package.json (an install with --omit=dev has nothing else),
 * and for what the gateway loads (edge/, simulators/, shared/ but shared/cli) only GATEWAY_PACKAGES.
 * `optionalDependencies` are the cloud's own (DuckDB's native binding): only cloud/ loads them,
 * and the gateway install leaves them out (test/integration/infra/gateway-install.test.ts).
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SOURCE_FOLDERS = ['edge', 'shared', 'cloud', 'simulators', 'infra'] as const;
type Area = (typeof SOURCE_FOLDERS)[number] | 'shared/cli';

const MAY_IMPORT: Record<Area, readonly Area[] | 'anything'> = {
  edge: ['edge', 'shared', 'shared/cli'],
  simulators: ['simulators', 'shared', 'shared/cli'],
  cloud: ['cloud', 'shared', 'shared/cli'],
  infra: ['infra', 'shared', 'shared/cli'],
  shared: ['shared'],
  'shared/cli': 'anything',
};

/**
 * Packages the gateway may load: runtime dependencies, pure JavaScript all the way down (no
 * install script, no native build), so `npm install --omit=dev` on an ARM board needs only
 * Node.js. A package for the cloud alone stays off this list.
 */
const GATEWAY_PACKAGES = ['aedes', 'commander', 'kafkajs', 'mqtt', 'mqtt-packet', 'pino', 'pino-pretty', 'prom-client', 'ws', 'yaml', 'zod'];
const GATEWAY_AREAS: readonly Area[] = ['edge', 'simulators', 'shared'];

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string>; optionalDependencies?: Record<string, string> };
const BUILTINS = new Set(builtinModules);

interface Import {
  /** Repository-relative, with `/`. */
  file: string;
  line: number;
  specifier: string;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const path = posix.join(dir, e.name);
    if (e.isSymbolicLink()) return []; // infra/kafka/lib: the Kafka jars
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

function importsOf(file: string): Import[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  return ts.preProcessFile(text, true, true).importedFiles.map((f) => ({ file, line: text.slice(0, f.pos).split('\n').length, specifier: f.fileName }));
}

function areaOf(path: string): Area | undefined {
  const [top, second] = path.split('/');
  if (top === 'shared' && second === 'cli') return 'shared/cli';
  return (SOURCE_FOLDERS as readonly string[]).includes(top!) ? (top as Area) : undefined;
}

/** The repository-relative path a relative specifier lands on (`.js` → `.ts`). */
function target(imp: Import): string {
  const abs = resolve(ROOT, dirname(imp.file), imp.specifier.replace(/\.js$/, '.ts'));
  return relative(ROOT, abs).split(sep).join('/');
}

const packageOf = (specifier: string): string => specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/');
const isRelative = (specifier: string): boolean => specifier.startsWith('./') || specifier.startsWith('../');

/** What is wrong with one import, or undefined. */
function violation(imp: Import): string | undefined {
  const from = areaOf(imp.file)!;
  const where = `${imp.file}:${imp.line} imports '${imp.specifier}'`;
  if (isRelative(imp.specifier)) {
    const to = areaOf(target(imp));
    if (to === undefined) return `${where} (${target(imp)}), outside the source folders: it is not in dist/`;
    const allowed = MAY_IMPORT[from];
    if (allowed !== 'anything' && !allowed.includes(to)) return `${where} (${to}/): ${from}/ may import only ${allowed.map((a) => `${a}/`).join(', ')}`;
    return undefined;
  }
  if (imp.specifier.startsWith('node:') || BUILTINS.has(imp.specifier)) return undefined;
  const name = packageOf(imp.specifier);
  if (name in pkg.devDependencies) return `${where}: a devDependency, missing from an install with --omit=dev`;
  if (name in (pkg.optionalDependencies ?? {})) return from === 'cloud' ? undefined : `${where}: an optional (cloud-only) package; only cloud/ may load it`;
  if (!(name in pkg.dependencies)) return `${where}: not in package.json dependencies`;
  if (GATEWAY_AREAS.includes(from) && !GATEWAY_PACKAGES.includes(name)) return `${where}: ${from}/ runs on the gateway and may load only GATEWAY_PACKAGES (pure JavaScript; test/shared/boundaries.test.ts)`;
  return undefined;
}

const files = SOURCE_FOLDERS.flatMap((d) => sourceFiles(d)).sort();
const imports = new Map(files.map((f) => [f, importsOf(f)]));

describe('boundaries between edge, cloud, simulators, infra and shared', () => {
  it('finds the source files and their imports', () => {
    expect(files).toContain('edge/agent/agent.ts');
    expect(imports.get('edge/agent/agent.ts')!.map((i) => i.specifier)).toContain('./kafka.js'); // a dynamic import
  });

  it('every import is an arrow the rules allow', () => {
    const wrong = [...imports.values()].flat().flatMap((imp) => violation(imp) ?? []);
    expect(wrong, `\n${wrong.join('\n')}\n`).toEqual([]);
  });

  it('what a side loads, through shared/cli helpers too, stays on that side and in shared/', () => {
    const wrong: string[] = [];
    for (const side of ['edge', 'simulators', 'cloud', 'infra'] as const) {
      const starts = files.filter((f) => areaOf(f) === side);
      const via = new Map<string, string | undefined>(starts.map((f) => [f, undefined]));
      const queue = [...starts];
      while (queue.length > 0) {
        const file = queue.shift()!;
        for (const imp of imports.get(file)!) {
          const next = isRelative(imp.specifier) ? target(imp) : undefined;
          if (next === undefined || via.has(next) || !imports.has(next)) continue;
          via.set(next, file);
          const area = areaOf(next)!;
          if (area === side || area === 'shared' || area === 'shared/cli') {
            queue.push(next);
            continue;
          }
          const chain = [next];
          for (let f: string | undefined = file; f !== undefined; f = via.get(f)) chain.unshift(f);
          wrong.push(`${side}/ loads ${area}/: ${chain.join(' → ')}`);
        }
      }
    }
    expect(wrong, `\n${wrong.join('\n')}\n`).toEqual([]);
  });

  it('kafkajs is loaded through shared/kafka/kafkajs.ts alone (its read_committed filter fixed); elsewhere only `import type`', () => {
    const all = [...files, ...sourceFiles('test')];
    const valueImport = /^\s*(?:import|export)\s+(?!type\b)[^;]*?from\s+'kafkajs'|require\(\s*'kafkajs'\s*\)|await import\(\s*'kafkajs'\s*\)/m;
    // The read_committed test loads kafkajs first on purpose, in a child process, to see it refused.
    const allowed = ['shared/kafka/kafkajs.ts', 'test/integration/kafka/read-committed.test.ts'];
    const wrong = all.filter((f) => !allowed.includes(f) && valueImport.test(readFileSync(join(ROOT, f), 'utf8')));
    expect(wrong).toEqual([]);
    expect(valueImport.test("import { Kafka, type Admin } from 'kafkajs';")).toBe(true);
    expect(valueImport.test("import type { Admin } from 'kafkajs';")).toBe(false);
  });

  it('the gateway packages are runtime dependencies with no install script anywhere below them', () => {
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dependencies?: Record<string, string>; optionalDependencies?: Record<string, string>; hasInstallScript?: boolean }>;
    };
    const problems: string[] = [];
    const seen = new Set<string>();
    const visit = (at: string, chain: string[]): void => {
      if (seen.has(at)) return;
      seen.add(at);
      const entry = lock.packages[at]!;
      if (entry.hasInstallScript === true) problems.push(`${chain.join(' → ')} has an install script (a native build?)`);
      for (const [dep, optional] of [...Object.keys(entry.dependencies ?? {}).map((d) => [d, false] as const), ...Object.keys(entry.optionalDependencies ?? {}).map((d) => [d, true] as const)]) {
        // Node's resolution, as npm laid it out: the nearest node_modules/<dep> up from `at`.
        let found: string | undefined;
        for (let base = at; found === undefined; base = base.includes('/node_modules/') ? base.slice(0, base.lastIndexOf('/node_modules/')) : '') {
          const candidate = base === '' ? `node_modules/${dep}` : `${base}/node_modules/${dep}`;
          if (candidate in lock.packages) found = candidate;
          else if (base === '') break;
        }
        if (found !== undefined) visit(found, [...chain, dep]);
        else if (!optional) problems.push(`${[...chain, dep].join(' → ')} is not in package-lock.json`);
      }
    };
    for (const name of GATEWAY_PACKAGES) {
      if (!(name in pkg.dependencies)) problems.push(`${name} is not in package.json dependencies`);
      else visit(`node_modules/${name}`, [name]);
    }
    expect(problems).toEqual([]);
  });
});

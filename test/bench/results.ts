/**
 * The latest result of a benchmark, as markdown: `test/bench/results/<name>.md`, rewritten by
 * every run (git keeps the earlier ones). It says where and how the figures were made — date,
 * commit, machine, Node.js, load average, the exact command with the ROADLOG_BENCH_* settings
 * in force — then the figures against their targets, then whatever tables and notes the
 * benchmark adds. The READMEs link to these files instead of copying figures.
 *
 *   const result = new BenchResult('drain', 'Forwarder drain', 'npm run bench:drain');
 *   result.figure('forwarder vs ProducerPerformance', '0.21×', '≥ 0.5×', false);
 *   await result.write();
 *
 * ROADLOG_BENCH_RESULTS_DIR writes elsewhere (a run that should not replace the published one).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

export interface Figure {
  name: string;
  value: string;
  target: string;
  met: boolean | undefined;
}

/** One line describing this machine: CPU model, cores, RAM, kernel. */
export function machineLine(): string {
  let model = cpus()[0]?.model.trim() ?? 'unknown CPU';
  try {
    model = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? model;
  } catch {
    /* not Linux */
  }
  return `${model}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${process.platform} ${release()}`;
}

const loadText = (): string => loadavg().map((x) => x.toFixed(2)).join(' ');

function commit(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO, encoding: 'utf8' }).trim();
    // The results of this very run (`npm run bench` writes several) do not make the tree dirty.
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no', '--', '.', ':!test/bench/results'], { cwd: REPO, encoding: 'utf8' }).trim() !== '';
    return dirty ? `${sha} with uncommitted changes` : sha;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

export class BenchResult {
  private readonly figures: Figure[] = [];
  private readonly sections: string[] = [];
  private readonly startedAt = new Date();
  private readonly loadAtStart = loadText();

  /** `command` is what `npm run bench` runs for it; the ROADLOG_BENCH_* variables set are added. */
  constructor(
    readonly name: string,
    readonly title: string,
    readonly command: string,
  ) {}

  /** A headline figure; `met` is undefined for a figure without a target. */
  figure(name: string, value: string, target = '', met?: boolean): void {
    this.figures.push({ name, value, target, met });
  }

  /** A markdown block (a table, a list, a paragraph) under its own heading. */
  section(heading: string, markdown: string): void {
    this.sections.push(`## ${heading}\n\n${markdown.trim()}\n`);
  }

  markdown(): string {
    const settings = Object.entries(process.env)
      .filter(([k]) => k.startsWith('ROADLOG_BENCH_') && k !== 'ROADLOG_BENCH_RESULTS_DIR')
      .map(([k, v]) => `${k}=${v}`)
      .sort();
    const command = [...settings, this.command].join(' ');
    const verdict = (m: boolean | undefined): string => (m === undefined ? '' : m ? 'met' : '**missed**');
    const lines = [
      `# ${this.title}`,
      '',
      `The latest run, written by \`test/bench/${this.name}.ts\` (see [the benchmarks' README](../README.md) for the method). Every run replaces this file; git keeps the earlier ones.`,
      '',
      '| | |',
      '|---|---|',
      `| command | \`${command}\` |`,
      `| date | ${this.startedAt.toISOString().replace('T', ' ').slice(0, 16)} UTC |`,
      `| commit | ${commit()} |`,
      `| machine | ${machineLine()} |`,
      `| Node.js | ${process.version} |`,
      `| load average at start / end | ${this.loadAtStart} / ${loadText()} |`,
      '',
    ];
    if (this.figures.length > 0) {
      lines.push('## Figures', '', '| figure | value | target | |', '|---|---|---|---|');
      for (const f of this.figures) lines.push(`| ${f.name} | ${f.value} | ${f.target} | ${verdict(f.met)} |`);
      lines.push('');
    }
    return `${[...lines, ...this.sections].join('\n').trimEnd()}\n`;
  }

  /** Writes `results/<name>.md` and returns its path. */
  async write(): Promise<string> {
    const dir = process.env['ROADLOG_BENCH_RESULTS_DIR'] ?? join(REPO, 'test/bench/results');
    await mkdir(dir, { recursive: true });
    const path = join(dir, `${this.name}.md`);
    await writeFile(path, this.markdown());
    console.log(`results: ${path}`);
    return path;
  }
}

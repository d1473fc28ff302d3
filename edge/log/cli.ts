import type { Command } from 'commander';
import { intOption } from '../../shared/cli/context.js';
import { RoadlogError } from '../../shared/errors/index.js';
import { inspectReport, openOffline, repairLog, verifyLog } from './inspect.js';
import { LANES, type Lane } from './options.js';
import type { LogRecord } from './record.js';

const DIR_HELP = "the agent's data directory (edge.dataDir, --data-dir), or the log directory in it";

/**
 * `roadlog log inspect|verify|repair|dump <dir>`: offline tools for the edge log. They work
 * on a stopped agent's data directory (or the log/ directory in it) and refuse with
 * ROADLOG_ERR_LOG_LOCKED while an agent holds it. Output goes to stdout (`io.out`,
 * replaceable in tests).
 */
export function registerLogCommands(program: Command, io: { out: NodeJS.WritableStream } = { out: process.stdout }): void {
  const write = (s: string) => void io.out.write(s);
  const log = program.command('log').description("the edge agent's local log: look inside, check, repair (stop the agent first)");

  log
    .command('inspect')
    .description('per lane and partition: offsets, segments, size, time range, and the backlog of every cursor')
    .argument('<dir>', DIR_HELP)
    .option('--json', 'one JSON document instead of a table')
    .action(async (dir: string, opts: { json?: boolean }) => {
      const l = await openOffline(dir);
      try {
        const rows = inspectReport(l);
        if (opts.json === true) {
          write(`${JSON.stringify({ dir: l.dir, partitions: l.partitions, cursors: Object.fromEntries(l.cursors), partitionsByLane: rows }, null, 2)}\n`);
          return;
        }
        const iso = (t: number | undefined) => (t === undefined ? '-' : new Date(t).toISOString());
        const names = [...l.cursors.keys()];
        write(`${l.dir}: ${l.partitions} partitions per lane; cursors: ${names.length === 0 ? '(none)' : names.join(', ')}\n`);
        write(`${['lane', 'part', 'start', 'end', 'segs', 'bytes', 'first ingest', 'last ingest', ...names.map((n) => `backlog:${n}`)].join('\t')}\n`);
        for (const r of rows) {
          write(`${[r.lane, r.partition, r.startOffset, r.endOffset, r.segments, r.bytes, iso(r.firstTs), iso(r.maxTs), ...names.map((n) => r.backlog[n] ?? 0)].join('\t')}\n`);
        }
      } finally {
        await l.close();
      }
    });

  log
    .command('verify')
    .description('check the CRC and layout of every record and every index file; exits non-zero (ROADLOG_ERR_LOG_CORRUPT) if anything is wrong')
    .argument('<dir>', DIR_HELP)
    .action(async (dir: string) => {
      const { problems, records, segments } = await verifyLog(dir);
      for (const p of problems) write(`${p.kind}\t${p.lane}/${p.partition}\t${p.segment}\t${p.detail}\n`);
      write(`${records} records in ${segments} segments checked; ${problems.length} problem(s)\n`);
      if (problems.length > 0) {
        const hint = problems.every((p) => p.kind !== 'corrupt-records') ? 'run `roadlog log repair` to fix' : 'damaged records are skipped by readers; `roadlog log repair` fixes tails and indexes only';
        throw new RoadlogError('ROADLOG_ERR_LOG_CORRUPT', `${dir}: ${problems.length} problem(s) found (${hint})`, { details: { problems: problems.length } });
      }
    });

  log
    .command('repair')
    .description('cut torn tails back to the last whole record and rebuild every index (takes the lock)')
    .argument('<dir>', DIR_HELP)
    .action(async (dir: string) => {
      const r = await repairLog(dir);
      write(`cut ${r.truncatedBytes} bytes of torn tails; rebuilt ${r.rebuiltIndexes} segment indexes\n`);
      for (const c of r.corrupt) write(`damaged (kept, skipped by readers): ${c.lane}/${c.partition} offsets ${c.range.fromOffset}..${c.range.toOffset - 1} (${c.range.reason})\n`);
    });

  log
    .command('dump')
    .description('print records as JSON lines: lane, partition, offset, key, timestamps, value (UTF-8, or base64 in valueBase64), headers')
    .argument('<dir>', DIR_HELP)
    .option('--lane <lane>', `only this lane (${LANES.join(', ')})`)
    .option('--partition <n>', 'only this partition', intOption('--partition', 0, 1023))
    .option('--from <offset>', 'start at this offset (in each partition dumped)', intOption('--from', 0, Number.MAX_SAFE_INTEGER))
    .option('--limit <n>', 'at most this many records in all', intOption('--limit', 1, Number.MAX_SAFE_INTEGER))
    .action(async (dir: string, opts: { lane?: string; partition?: number; from?: number; limit?: number }) => {
      if (opts.lane !== undefined && !(LANES as readonly string[]).includes(opts.lane)) throw new RoadlogError('ROADLOG_ERR_USAGE', `--lane: expected one of ${LANES.join(', ')}, got ${JSON.stringify(opts.lane)}`);
      const l = await openOffline(dir);
      try {
        if (opts.partition !== undefined && opts.partition >= l.partitions) throw new RoadlogError('ROADLOG_ERR_USAGE', `--partition: this log has partitions 0 to ${l.partitions - 1}, got ${opts.partition}`);
        let left = opts.limit ?? Infinity;
        for (const lane of opts.lane === undefined ? LANES : [opts.lane as Lane]) {
          const parts = l.lanes.get(lane)!;
          for (let p = 0; p < parts.length && left > 0; p++) {
            if (opts.partition !== undefined && p !== opts.partition) continue;
            let next = opts.from ?? 0;
            while (left > 0) {
              const r = await parts[p]!.read(next, { maxRecords: Math.min(1000, left), maxBytes: 4 << 20 });
              for (const s of r.skipped) write(`${JSON.stringify({ lane, partition: p, skipped: { fromOffset: s.fromOffset, toOffset: s.toOffset, reason: s.reason } })}\n`);
              for (const rec of r.records) write(`${JSON.stringify(recordJson(lane, p, rec))}\n`);
              left -= r.records.length;
              if (r.nextOffset === next) break;
              next = r.nextOffset;
            }
          }
        }
      } finally {
        await l.close();
      }
    });
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function bytesJson(v: Uint8Array, name: string): Record<string, string> {
  try {
    return { [name]: utf8.decode(v) };
  } catch {
    return { [`${name}Base64`]: Buffer.from(v).toString('base64') };
  }
}

function recordJson(lane: Lane, partition: number, r: LogRecord): Record<string, unknown> {
  return {
    lane,
    partition,
    offset: r.offset,
    key: r.key,
    critical: r.critical,
    deviceTs: r.deviceTs,
    ingestTs: r.ingestTs,
    ...bytesJson(r.value, 'value'),
    headers: r.headers.map((h) => ({ name: h.name, ...bytesJson(h.value, 'value') })),
  };
}

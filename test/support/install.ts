import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';

/** What the install-script tests (test/integration/infra/*-install.test.ts) share. */

/** npm from its cache when it can (`npm ci` filled it), without the update check. */
export const INSTALL_ENV = { ...process.env, npm_config_prefer_offline: 'true', npm_config_update_notifier: 'false' };

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end (2 minutes at most by default); never rejects. */
export function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { env: opts.env ?? INSTALL_ENV, cwd: opts.cwd, timeout: opts.timeoutMs ?? 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : null, stdout, stderr });
    });
    child.stdin?.end(opts.input ?? '');
  });
}

/** Every path under `dir`: type, mode, owner, mtime, size, and a hash of the small files (big binaries by size and mtime): two equal snapshots mean nothing was touched. */
export async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const entry of ['.', ...(await readdir(dir, { recursive: true }))]) {
    const path = join(dir, entry);
    const st = await lstat(path);
    let what = `${st.mode.toString(8)} ${st.uid}:${st.gid} ${st.mtimeMs} ${st.size}`;
    if (st.isSymbolicLink()) what += ` -> ${await readlink(path)}`;
    else if (st.isFile() && st.size < 1 << 20) what += ` ${createHash('sha256').update(await readFile(path)).digest('hex')}`;
    out.set(entry, what);
  }
  return out;
}

export const mode = async (path: string): Promise<number> => (await lstat(path)).mode & 0o7777;

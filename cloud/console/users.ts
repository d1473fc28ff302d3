import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../../shared/atomic-file/index.js';
import { hashSecret, parseCredential, verifySecret, type Credential } from '../../shared/credentials/index.js';
import { RoadlogError } from '../../shared/errors/index.js';

/**
 * The console's users file: one line per user, `#` comments allowed,
 *   alice: operator: scrypt$16384$8$1$<salt base64>$<hash base64>
 * Roles: `viewer` reads everything; `operator` also acks and clears alerts. Passwords are never
 * stored, only scrypt hashes (the vehicles' credentials' format, shared/credentials).
 * `roadlog console passwd FILE USER --role R` adds or replaces a line.
 */
export const ROLES = ['viewer', 'operator'] as const;
export type Role = (typeof ROLES)[number];
export const USER_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/;

export interface User {
  name: string;
  role: Role;
  credential: Credential;
}

export function parseUsersFile(text: string, file: string): Map<string, User> {
  const out = new Map<string, User>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const [name, role, ...rest] = line.split(':').map((x) => x.trim());
    const credential = parseCredential(rest.join(':'));
    if (name === undefined || !USER_PATTERN.test(name) || !ROLES.includes(role as Role) || credential === undefined) {
      throw new RoadlogError('ROADLOG_ERR_CONFIG_INVALID', `console.usersFile (${file}) line ${i + 1}: expected "user: viewer|operator: scrypt$N$r$p$salt$hash" (see \`roadlog console passwd\`)`);
    }
    out.set(name, { name, role: role as Role, credential });
  });
  return out;
}

export async function readUsersFile(file: string): Promise<Map<string, User>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new RoadlogError(code === 'ENOENT' ? 'ROADLOG_ERR_FILE_NOT_FOUND' : 'ROADLOG_ERR_FILE_ACCESS', `console.usersFile: cannot read ${file} (${code ?? (err as Error).message}); make one with \`roadlog console passwd ${file} USER --role operator\``, { cause: err });
  }
  return parseUsersFile(text, file);
}

/** The user, when the password is theirs; undefined otherwise (an unknown user costs the same scrypt as a known one). */
export async function authenticate(users: ReadonlyMap<string, User>, name: string, password: string): Promise<User | undefined> {
  const user = users.get(name);
  const ok = await verifySecret(password, user?.credential ?? DECOY);
  return ok && user !== undefined ? user : undefined;
}

const DECOY: Credential = { N: 16_384, r: 8, p: 1, salt: Buffer.alloc(16), hash: Buffer.alloc(32) };

/** Adds or replaces `name`'s line, keeping every other line (comments included) as it was. */
export async function setPassword(file: string, name: string, role: Role, password: string): Promise<'added' | 'replaced'> {
  if (!USER_PATTERN.test(name)) throw new RoadlogError('ROADLOG_ERR_USAGE', `user: expected 1-64 characters of A-Z a-z 0-9 _ . @ - starting with a letter or digit, got ${JSON.stringify(name)}`);
  if (password.length < 8) throw new RoadlogError('ROADLOG_ERR_USAGE', 'password: at least 8 characters');
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? '' : Promise.reject(err)));
  parseUsersFile(text, file);
  const line = `${name}: ${role}: ${await hashSecret(password)}`;
  const lines = text.split('\n').filter((l, i, all) => !(i === all.length - 1 && l === ''));
  const at = lines.findIndex((l) => l.split(':')[0]!.trim() === name && !l.trim().startsWith('#'));
  if (at >= 0) lines[at] = line;
  else lines.push(line);
  await writeFileAtomic(file, `${lines.join('\n')}\n`);
  return at >= 0 ? 'replaced' : 'added';
}

import { randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { RoadlogError } from '../errors/index.js';
import { VEHICLE_ID_PATTERN } from '../schema/index.js';

const scrypt = promisify(scryptCb) as (password: string | Buffer, salt: Buffer, keylen: number, options: { N: number; r: number; p: number; maxmem: number }) => Promise<Buffer>;

/**
 * Vehicle credentials file: one line per vehicle, `#` comments allowed:
 *   VH-0001: scrypt$16384$8$1$<salt base64>$<hash base64>
 * Secrets are never stored, only scrypt hashes (N=2^14, r=8, p=1, 32-byte key, 16-byte salt).
 * The edge agent reads it (`edge.mqtt.credentialsFile`); `roadlog edge passwd FILE VEHICLE`
 * adds or replaces a line; `roadlog sim-credentials` writes one for a simulated fleet.
 */
export const SCRYPT_PARAMS = { N: 16_384, r: 8, p: 1, keylen: 32 } as const;

export interface Credential {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

export async function hashSecret(secret: string, params = SCRYPT_PARAMS): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scrypt(secret, salt, params.keylen, { N: params.N, r: params.r, p: params.p, maxmem: 64 * 1024 * 1024 });
  return `scrypt$${params.N}$${params.r}$${params.p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export function parseCredential(text: string): Credential | undefined {
  const m = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(text.trim());
  if (m === null) return undefined;
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (N < 2 || (N & (N - 1)) !== 0 || r < 1 || p < 1) return undefined;
  return { N, r, p, salt: Buffer.from(m[4]!, 'base64'), hash: Buffer.from(m[5]!, 'base64') };
}

export async function verifySecret(secret: Buffer | string, credential: Credential): Promise<boolean> {
  const hash = await scrypt(secret, credential.salt, credential.hash.length, { N: credential.N, r: credential.r, p: credential.p, maxmem: 256 * 1024 * 1024 });
  return hash.length === credential.hash.length && timingSafeEqual(hash, credential.hash);
}

export function parseCredentialsFile(text: string, file: string): Map<string, Credential> {
  const out = new Map<string, Credential>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    const id = colon > 0 ? line.slice(0, colon).trim() : '';
    const credential = colon > 0 ? parseCredential(line.slice(colon + 1)) : undefined;
    if (!VEHICLE_ID_PATTERN.test(id) || credential === undefined) {
      throw new RoadlogError('ROADLOG_ERR_CONFIG_INVALID', `edge.mqtt.credentialsFile (${file}) line ${i + 1}: expected "vehicleId: scrypt$N$r$p$salt$hash" (see \`roadlog edge passwd\`)`);
    }
    out.set(id, credential);
  });
  return out;
}

export async function loadCredentials(file: string): Promise<Map<string, Credential>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new RoadlogError('ROADLOG_ERR_CONFIG_INVALID', `edge.mqtt.credentialsFile: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
  return parseCredentialsFile(text, file);
}

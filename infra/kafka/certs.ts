/**
 * The certificates and secrets of a `--secure` cluster, made with `openssl` (Debian package
 * openssl, installed by infra/bootstrap.sh). Layout, under `<clusterDir>/secure/`:
 *   ca.pem          the cluster's own CA certificate (what clients trust: `kafka.tls.caFile`)
 *   ca.key          its private key (0600), kept so a later start can sign again
 *   broker.p12      every node's key and certificate (SAN IP:127.0.0.1, DNS:localhost) and the
 *                   CA, PKCS#12 (0600): the brokers' ssl.keystore
 *   keystore.password  the PKCS#12 password (0600)
 *   client.password    the SCRAM/PLAIN password of the client user (0600): `kafka.sasl.passwordFile`
 * Made once; a later start of the same directory reuses them, so clients keep their CA file
 * and password across restarts.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RoadlogError } from '../../shared/errors/index.js';

/** The user `--secure` creates (SCRAM-SHA-512, SCRAM-SHA-256 and PLAIN). */
export const CLIENT_USER = 'roadlog';

export interface SecureFiles {
  dir: string;
  caFile: string;
  keystoreFile: string;
  keystorePassword: string;
  username: string;
  passwordFile: string;
  password: string;
}

export function secureDirOf(clusterDir: string): string {
  return join(clusterDir, 'secure');
}

/** Reads the secure material of `clusterDir`, making whatever is missing. */
export async function ensureSecureFiles(clusterDir: string): Promise<SecureFiles> {
  const dir = secureDirOf(clusterDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const caFile = join(dir, 'ca.pem');
  const keystoreFile = join(dir, 'broker.p12');
  const keystorePassword = await secretFile(join(dir, 'keystore.password'));
  const passwordFile = join(dir, 'client.password');
  const password = await secretFile(passwordFile);
  if (!existsSync(caFile)) await makeCa(dir);
  if (!existsSync(keystoreFile)) await makeBrokerKeystore(dir, keystoreFile, keystorePassword);
  return { dir, caFile, keystoreFile, keystorePassword, username: CLIENT_USER, passwordFile, password };
}

/** A random secret in a 0600 file, made on first use. Hex: safe in properties files and JAAS strings. */
async function secretFile(file: string): Promise<string> {
  if (!existsSync(file)) await writeFile(file, `${randomBytes(24).toString('hex')}\n`, { mode: 0o600 });
  return (await readFile(file, 'utf8')).trim();
}

/** A self-signed CA (EC P-256, 10 years) in `dir`: ca.pem and ca.key. Exported for tests (a CA the brokers do not use). */
export async function makeCa(dir: string, name = 'roadlog local Kafka CA'): Promise<{ caFile: string; keyFile: string }> {
  const caFile = join(dir, 'ca.pem');
  const keyFile = join(dir, 'ca.key');
  await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-noenc', '-keyout', keyFile, '-out', caFile, '-days', '3650',
    '-subj', `/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  await chmod(keyFile, 0o600);
  return { caFile, keyFile };
}

async function makeBrokerKeystore(dir: string, keystoreFile: string, password: string): Promise<void> {
  const key = join(dir, 'broker.key');
  const cert = join(dir, 'broker.pem');
  try {
    await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-noenc', '-keyout', key, '-out', cert, '-days', '825',
      '-subj', '/CN=localhost', '-CA', join(dir, 'ca.pem'), '-CAkey', join(dir, 'ca.key'),
      '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-addext', 'basicConstraints=critical,CA:FALSE', '-addext', 'extendedKeyUsage=serverAuth']);
    // The password goes through the environment, not the command line (which `ps` shows).
    await openssl(['pkcs12', '-export', '-out', keystoreFile, '-inkey', key, '-in', cert, '-certfile', join(dir, 'ca.pem'), '-name', 'broker', '-passout', 'env:ROADLOG_KEYSTORE_PASSWORD'], { ROADLOG_KEYSTORE_PASSWORD: password });
    await chmod(keystoreFile, 0o600);
  } finally {
    await rm(key, { force: true });
  }
}

function openssl(args: string[], env: Record<string, string> = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', (err) => reject(new RoadlogError('ROADLOG_ERR_SERVICE_NOT_INSTALLED', `cannot run openssl (needed by --secure): ${err.message}; run \`bash infra/bootstrap.sh\``, { cause: err })));
    child.once('close', (code) => {
      if (code === 0) resolve();
      else reject(new RoadlogError('ROADLOG_ERR_SERVICE_START_FAILED', `openssl ${args[0]} failed (exit ${code}): ${stderr.trim()}`));
    });
  });
}

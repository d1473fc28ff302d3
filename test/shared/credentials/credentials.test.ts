import { describe, expect, it } from 'vitest';
import { hashSecret, parseCredential, parseCredentialsFile, verifySecret } from '../../../shared/credentials/index.js';
import { isRoadlogError } from '../../../shared/errors/index.js';

describe('vehicle credentials', () => {
  it('verifies the right secret and refuses a wrong one; never stores the secret', async () => {
    const line = await hashSecret('correct horse battery');
    expect(line).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(line).not.toContain('correct');
    const credential = parseCredential(line)!;
    expect(await verifySecret('correct horse battery', credential)).toBe(true);
    expect(await verifySecret('correct horse batterY', credential)).toBe(false);
    expect(await verifySecret('', credential)).toBe(false);
  });

  it('salts: the same secret hashes differently twice', async () => {
    expect(await hashSecret('same secret!')).not.toBe(await hashSecret('same secret!'));
  });

  it('parses a file with comments and rejects a malformed line naming it', async () => {
    const good = `# fleet\nVH-1: ${await hashSecret('secret-one')}\n\nVH-2: ${await hashSecret('secret-two')}\n`;
    expect([...parseCredentialsFile(good, 'v.passwd').keys()]).toEqual(['VH-1', 'VH-2']);
    for (const bad of ['VH-1 scrypt$1$1$1$a$b', 'a/b: scrypt$16384$8$1$YQ==$Yg==', 'VH-1: md5$abc', 'VH-1: scrypt$1000$8$1$YQ==$Yg==']) {
      try {
        parseCredentialsFile(`# x\n${bad}\n`, 'v.passwd');
        throw new Error(`accepted ${bad}`);
      } catch (err) {
        expect(isRoadlogError(err, 'ROADLOG_ERR_CONFIG_INVALID'), String(err)).toBe(true);
        expect((err as Error).message).toContain('v.passwd) line 2');
      }
    }
  });
});

import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { RoadlogError } from '../../shared/errors/index.js';
import { ROLES, type Role } from './users.js';

/** `roadlog console ...`: the web console's commands (its server comes with the pages). */
export function registerConsoleCommands(program: Command): void {
  const console_ = program.command('console').description('the web console: its users (the server and its pages are being built)');
  console_
    .command('passwd')
    .description('add or replace a console user in a users file (scrypt hash; the password is read from stdin, at least 8 characters)')
    .argument('<file>', 'users file (created if missing)')
    .argument('<user>', 'user name (1-64 characters of A-Z a-z 0-9 _ . @ -)')
    .addOption(new Option('--role <role>', 'viewer reads; operator also acks and clears alerts').choices([...ROLES]).makeOptionMandatory())
    .action(async (file: string, user: string, flags: { role: Role }) => {
      const password = readFileSync(0, 'utf8').replace(/\r?\n$/, '');
      const { setPassword } = await import('./users.js');
      const { asFileError } = await import('../../shared/errors/index.js');
      let done: 'added' | 'replaced';
      try {
        done = await setPassword(file, user, flags.role, password);
      } catch (err) {
        if (err instanceof RoadlogError) throw err;
        throw asFileError(err, 'console passwd', file);
      }
      process.stdout.write(`${user} (${flags.role}): ${done} in ${file}\n`);
    });
}

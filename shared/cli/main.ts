#!/usr/bin/env -S node --max-semi-space-size=16
import './runtime.js'; // first: refuses an unsupported Node.js before anything else loads
import './early.js'; // before the other modules are even parsed

const { main } = await import('./program.js');

// The installed `roadlog` binary. Long-running commands (tail, edge start, ...) resolve only
// when they are done, so by now all work has finished: exit with its code, but only after
// stdout and stderr are drained. Writes to a full pipe are queued, not synchronous, so exiting
// at once would cut `roadlog log dump DIR | wc -l` short.
// The reader went away (`roadlog tail ... | head`): stop quietly, as Unix tools do.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

const code = await main();
await Promise.all([process.stdout, process.stderr].map(drained));
process.exit(code);

function drained(stream: NodeJS.WriteStream): Promise<void> {
  if (stream.writableLength === 0) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once('drain', resolve);
    stream.once('error', resolve); // EPIPE (`| head`): nothing more can be written anyway
  });
}

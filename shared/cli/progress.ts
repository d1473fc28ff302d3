/**
 * A progress bar on stderr for long work, when stderr is a terminal (nothing otherwise, so
 * pipes and logs stay clean): `label [#########........] 36%  9 / 25 hour folders`, redrawn at
 * most every 200 ms (with `unit` empty, the percentage only); `done()` ends the line.
 */
export function progressBar(label: string, unit: string, stream: NodeJS.WriteStream = process.stderr): { update(done: number, total: number): void; done(): void } {
  const tty = stream.isTTY === true;
  let shown = 0;
  let drawn = false;
  return {
    update(done, total) {
      if (!tty || (Date.now() - shown < 200 && done < total)) return;
      shown = Date.now();
      const pct = total === 0 ? 100 : Math.min(100, Math.round((100 * done) / total));
      stream.write(`\r${label} [${'#'.repeat(Math.round(pct / 4)).padEnd(25, '.')}] ${pct}%${unit === '' ? '' : `  ${done.toLocaleString('en-US')} / ${total.toLocaleString('en-US')} ${unit}`}`);
      drawn = true;
    },
    done() {
      if (drawn) stream.write('\n');
    },
  };
}

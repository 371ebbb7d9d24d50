/** A one-line progress bar on a TTY; on a pipe, one line per 10% so logs stay readable. */
export function progressBar(stream: NodeJS.WriteStream) {
  let lastDecile = -1;
  let lastPhase = '';
  const tty = Boolean(stream.isTTY);
  return {
    update: (phase: string, done: number, total: number) => {
      const pct = total === 0 ? 100 : Math.floor((done / total) * 100);
      if (tty) {
        const width = 30;
        const filled = Math.round((pct / 100) * width);
        if (phase !== lastPhase && lastPhase) stream.write('\n');
        stream.write(`\r${phase.padEnd(6)} [${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${String(pct).padStart(3)}% ${done}/${total}`);
      } else if (phase !== lastPhase || Math.floor(pct / 10) !== lastDecile) {
        stream.write(`${phase}: ${pct}% (${done}/${total})\n`);
      }
      lastPhase = phase;
      lastDecile = Math.floor(pct / 10);
    },
    done: () => {
      if (tty) stream.write('\n');
    },
  };
}

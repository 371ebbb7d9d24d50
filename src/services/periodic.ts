/**
 * Runs `task` every `intervalMs`, one run at a time (a run that outlasts the interval delays the next, never overlaps
 * it); errors go to `onError` and the next tick tries again. The timer does not hold the process open. `stop()` ends
 * the timer and waits for a run in progress.
 */
export function runPeriodically(task: () => Promise<unknown>, intervalMs: number, onError: (e: unknown) => void): { stop(): Promise<void> } {
  let running: Promise<unknown> = Promise.resolve();
  let stopped = false;
  const timer = setInterval(() => {
    if (stopped) return;
    running = running.then(() => (stopped ? 0 : task())).catch(onError);
  }, intervalMs);
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}

/**
 * A virtual clock with timers for tests: `schedule` is the app's Schedule seam (warm-up turns, call timeouts, the
 * check lease), `advance` moves time and runs what fell due, letting promise chains settle between timers.
 */
export class VirtualTimers {
  ms = 1_000_000;
  private timers: Array<{ at: number; run: () => void; cancelled: boolean }> = [];

  readonly now = (): number => this.ms;

  readonly schedule = (run: () => void, ms: number): (() => void) => {
    const timer = { at: this.ms + Math.max(0, ms), run, cancelled: false };
    this.timers.push(timer);
    return () => {
      timer.cancelled = true;
    };
  };

  /** Timers still waiting. */
  get pending(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  /** Move time forward by `byMs`, running every timer that falls due in order (and what their promises start). */
  async advance(byMs: number): Promise<void> {
    const end = this.ms + byMs;
    for (;;) {
      await settle();
      const due = this.timers.filter((t) => !t.cancelled && t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) break;
      this.ms = Math.max(this.ms, due.at);
      due.cancelled = true;
      due.run();
    }
    this.ms = end;
    this.timers = this.timers.filter((t) => !t.cancelled);
    await settle();
  }
}

export const settle = () => new Promise((r) => setImmediate(r));

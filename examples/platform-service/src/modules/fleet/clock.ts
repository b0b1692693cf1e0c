/** A clock the tests and the demo move by hand, so leases expire without waiting. */
export class ManualClock {
  private current: number;

  constructor(startMs = 0) {
    this.current = startMs;
  }

  /** Bound, so it can be passed as `now` directly. */
  readonly now = (): number => this.current;

  advance(ms: number): number {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`a clock only moves forward; got ${ms}`);
    this.current += ms;
    return this.current;
  }
}

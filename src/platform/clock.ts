// Injectable time. Services read "now" from the platform's clock, never from Date.now(), so a
// test moves time forward instead of sleeping on the real one.
//
//   const clock = new ManualClock(Date.parse("2026-12-01T04:00:00Z"));
//   const t = await createTestApp("embedded", {}, undefined, modules, { clock });
//   clock.advance(31_000); // the cached answer has expired
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock that moves only when told to. */
export class ManualClock implements Clock {
  constructor(private current: number = Date.now()) {}

  now(): number {
    return this.current;
  }

  advance(ms: number): void {
    if (ms < 0) throw new Error("a clock does not go back");
    this.current += ms;
  }

  set(epochMs: number): void {
    this.current = epochMs;
  }
}

/**
 * Time and randomness ports (DESIGN.md rule 1). Cores receive `now` as a number of
 * milliseconds since the epoch and draw randomness from an Rng, so tests can drive them on
 * a manual clock with a seeded generator. Only adapters use `systemClock`/`cryptoRng`.
 */
import { randomBytes, randomInt } from 'node:crypto';

export interface Clock {
  /** Wall-clock milliseconds since the epoch. */
  now(): number;
  /** Monotonic milliseconds, for durations and timers. */
  monotonic(): number;
}

export interface Rng {
  /** Uniform integer in [0, max). */
  int(max: number): number;
  bytes(n: number): Uint8Array;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
};

export const cryptoRng: Rng = {
  int: (max) => randomInt(max),
  bytes: (n) => new Uint8Array(randomBytes(n)),
};

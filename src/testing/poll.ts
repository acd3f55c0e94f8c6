/**
 * Wait for a condition in tests: `probe` is asked every `stepMs` until it holds or `ms`
 * have passed; resolves with the milliseconds it took (reported as the time to follow a
 * change), or undefined on timeout. Bounded, so a test never hangs on it.
 */
export async function pollUntil(
  probe: () => Promise<boolean> | boolean,
  ms = 10_000,
  stepMs = 50,
): Promise<number | undefined> {
  const t0 = performance.now();
  for (;;) {
    if (await probe()) return performance.now() - t0;
    if (performance.now() - t0 > ms) return undefined;
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

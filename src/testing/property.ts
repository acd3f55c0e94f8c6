/**
 * A fast-check property as one tap assertion: `holds(t, property)` runs it and asserts it
 * held, naming the number of runs, or reports fast-check's counterexample. Use it where a
 * test's only check is the property (instead of `fc.assert` followed by a bare `t.pass()`).
 */
import fc from 'fast-check';

export function holds<Ts>(
  t: { ok(value: unknown, message: string): unknown },
  property: fc.IProperty<Ts>,
  params?: fc.Parameters<Ts>,
  what = 'property',
): void {
  const r = fc.check(property, params);
  t.ok(
    !r.failed,
    r.failed
      ? (fc.defaultReportMessage(r) ?? `${what} failed`)
      : `${what} holds (${r.numRuns} runs)`,
  );
}

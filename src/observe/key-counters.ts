/**
 * Key counters (src/service.ts KeyCounters) as the monitor uses them: `readServices()` checks
 * a target's `GET /services` answer, `compileKeyCounters()` turns the declared matches into
 * predicates on samples, and `genericKeyCounters()` is the rule for a service that declares
 * none: `<svc>_requests_total` and `<svc>_internal_errors_total`.
 *
 * The answer comes from another process, maybe of another version: anything malformed
 * (a bad shape, a label pattern that is not a regular expression) degrades to "declares
 * none" for that service instead of failing the scrape.
 */
import { Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { KeyCounters, SeriesMatch, ServiceDescription } from '../service.js';
import type { Sample } from './exposition.js';

// Bounded, so a confused target cannot make every scrape compile huge patterns.
const SeriesMatchSchema = Type.Object({
  metric: Type.String({ minLength: 1, maxLength: 200 }),
  labels: Type.Optional(Type.Record(Type.String(), Type.String({ maxLength: 200 }))),
});
const Matches = Type.Array(SeriesMatchSchema, { maxItems: 50 });
const KeyCountersSchema = Type.Object({ requests: Matches, errors: Matches });

export interface CompiledKeyCounters {
  readonly request: (s: Sample) => boolean;
  readonly error: (s: Sample) => boolean;
}

export function genericKeyCounters(svc: string): KeyCounters {
  return {
    requests: [{ metric: `${svc}_requests_total` }],
    errors: [{ metric: `${svc}_internal_errors_total` }],
  };
}

function compileMatch(m: SeriesMatch): (s: Sample) => boolean {
  // Anchored as PromQL's `=~`: 'SERVFAIL' is that value only, not "contains SERVFAIL".
  const labels = Object.entries(m.labels ?? {}).map(
    ([name, pattern]) => [name, new RegExp(`^(?:${pattern})$`)] as const,
  );
  return (s) => s.name === m.metric && labels.every(([n, re]) => re.test(s.labels[n] ?? ''));
}

/** Predicates for one service's rule. Throws SyntaxError on a label pattern that is not a regex. */
export function compileKeyCounters(kc: KeyCounters): CompiledKeyCounters {
  const any = (ms: readonly SeriesMatch[]): ((s: Sample) => boolean) => {
    const fns = ms.map(compileMatch);
    return (s) => fns.some((f) => f(s));
  };
  return { request: any(kc.requests), error: any(kc.errors) };
}

function validKeyCounters(value: unknown): KeyCounters | null {
  if (!Value.Check(KeyCountersSchema, value)) return null;
  try {
    compileKeyCounters(value);
    return value;
  } catch {
    return null;
  }
}

/**
 * A `GET /services` body → the descriptions it holds; undefined when it is not a JSON list
 * (then the caller treats the target as one that does not describe itself).
 */
export function readServices(body: string): ServiceDescription[] | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (!Array.isArray(doc)) return undefined;
  const out: ServiceDescription[] = [];
  for (const entry of doc as unknown[]) {
    if (entry === null || typeof entry !== 'object') continue;
    const { name, keyCounters } = entry as { name?: unknown; keyCounters?: unknown };
    if (typeof name !== 'string' || name === '') continue;
    out.push({ name, keyCounters: validKeyCounters(keyCounters) });
  }
  return out;
}

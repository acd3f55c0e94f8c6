import t from 'tap';
import { ConnectionsPerSource } from '../../src/net/connections-per-source.js';
import { ConnectionSlots } from './connection-slots.js';

/**
 * Steps, one per line:
 *   open <conn> <source> → accept | accept evict <conn> | per_source_cap | max_connections
 *   head <conn>          (request head received)
 *   done <conn>          (response ended)
 *   close <conn>
 */
interface Case {
  readonly name: string;
  readonly max: number;
  readonly perSource: number;
  readonly steps: readonly string[];
  /** Connections holding a slot at the end, and which of them wait for a head. */
  readonly open: readonly string[];
  readonly waiting: readonly string[];
}

const cases: Case[] = [
  {
    name: 'per-source cap refuses the excess of one address, others still admitted',
    max: 8,
    perSource: 2,
    steps: [
      'open a 10.0.0.1 → accept',
      'open b 10.0.0.1 → accept',
      'open c 10.0.0.1 → per_source_cap',
      'open d ::ffff:10.0.0.1 → per_source_cap',
      'open e 10.0.0.2 → accept',
    ],
    open: ['a', 'b', 'e'],
    waiting: ['a', 'b', 'e'],
  },
  {
    name: 'closing gives the source its slot back',
    max: 8,
    perSource: 1,
    steps: ['open a 10.0.0.1 → accept', 'close a', 'close a', 'open b 10.0.0.1 → accept'],
    open: ['b'],
    waiting: ['b'],
  },
  {
    name: 'per-source 0 means no per-source cap',
    max: 3,
    perSource: 0,
    steps: ['open a s → accept', 'open b s → accept', 'open c s → accept'],
    open: ['a', 'b', 'c'],
    waiting: ['a', 'b', 'c'],
  },
  {
    name: 'at the global cap the oldest connection without a head is evicted',
    max: 3,
    perSource: 0,
    steps: [
      'open a s1 → accept',
      'open b s1 → accept',
      'open c s1 → accept',
      'open d s2 → accept evict a',
      'open e s2 → accept evict b',
    ],
    open: ['c', 'd', 'e'],
    waiting: ['c', 'd', 'e'],
  },
  {
    name: 'connections mid-request are never evicted; all busy → refused',
    max: 2,
    perSource: 0,
    steps: [
      'open a s → accept',
      'open b s → accept',
      'head a',
      'open c s → accept evict b',
      'head c',
      'open d s → max_connections',
    ],
    open: ['a', 'c'],
    waiting: [],
  },
  {
    name: 'a keep-alive connection waits again after its response, from then on',
    max: 3,
    perSource: 0,
    steps: [
      'open a s → accept',
      'open b s → accept',
      'open c s → accept',
      'head a',
      'done a', // a now waits, but began after b and c
      'open d s → accept evict b',
      'open e s → accept evict c',
      'open f s → accept evict a',
    ],
    open: ['d', 'e', 'f'],
    waiting: ['d', 'e', 'f'],
  },
  {
    name: 'pipelined requests: busy until the last response ends',
    max: 2,
    perSource: 0,
    steps: [
      'open a s → accept',
      'head a',
      'head a',
      'done a',
      'open b s → accept',
      'head b',
      'open c s → max_connections',
      'done a',
      'done a', // extra done is ignored
      'open d s → accept evict a',
    ],
    open: ['b', 'd'],
    waiting: ['d'],
  },
  {
    name: 'refusal at the global cap gives the per-source slot back',
    max: 1,
    perSource: 2,
    steps: [
      'open a x → accept',
      'head a',
      'open b y → max_connections',
      'open c y → max_connections',
      'open d y → max_connections',
      'close a',
      'open e y → accept',
    ],
    open: ['e'],
    waiting: ['e'],
  },
  {
    name: 'the victim’s source slot is released',
    max: 2,
    perSource: 1,
    steps: [
      'open a x → accept',
      'open b y → accept',
      'open c z → accept evict a',
      'open d x → accept evict b',
    ],
    open: ['c', 'd'],
    waiting: ['c', 'd'],
  },
  {
    name: 'events for unknown or closed connections are ignored',
    max: 2,
    perSource: 0,
    steps: ['head zz', 'done zz', 'close zz', 'open a s → accept', 'close a', 'head a', 'done a'],
    open: [],
    waiting: [],
  },
];

for (const c of cases) {
  t.test(c.name, async (t) => {
    const perSource = new ConnectionsPerSource(c.perSource);
    const slots = new ConnectionSlots<string>(c.max, perSource);
    const known = new Set<string>();
    for (const step of c.steps) {
      const [verb, conn, source] = step.split(' → ')[0]!.split(' ') as [string, string, string];
      known.add(conn);
      if (verb === 'open') {
        const want = step.split(' → ')[1]!;
        const a = slots.open(conn, source);
        const got = a.accept
          ? a.evict === undefined
            ? 'accept'
            : `accept evict ${a.evict}`
          : a.reason;
        t.equal(got, want, step);
      } else if (verb === 'head') slots.headReceived(conn);
      else if (verb === 'done') slots.responseDone(conn);
      else if (verb === 'close') slots.close(conn);
      else t.fail(`unknown step ${step}`);
    }
    t.equal(slots.size, c.open.length, 'slots held');
    t.same(
      [...known].filter((k) => slots.has(k)),
      [...known].filter((k) => c.open.includes(k)),
      'who holds a slot',
    );
    t.same(
      [...known].filter((k) => slots.waitingForHead(k)),
      [...known].filter((k) => c.waiting.includes(k)),
      'waiting for a head',
    );
    t.ok(slots.size <= c.max, 'never above the global cap');
    // every slot given back leaves the per-source table empty
    for (const k of known) slots.close(k);
    t.equal(perSource.sources, 0, 'per-source counts released');
  });
}

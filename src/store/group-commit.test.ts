import t from 'tap';
import { GroupCommit } from './group-commit.js';

function harness(failOn?: number) {
  const log: string[] = [];
  let writes = 0;
  const queue: (() => void)[] = [];
  const gc = new GroupCommit<string, number>(
    {
      write: (changes) => {
        writes++;
        if (writes === failOn) throw new Error('disk full');
        log.push(`write ${changes.join(',')}`);
      },
      committed: (tokens) => log.push(`committed ${tokens.join(',')}`),
      failed: (tokens, changes, err) =>
        log.push(`failed ${tokens.join(',')} [${changes.join(',')}] ${(err as Error).message}`),
    },
    (fn) => queue.push(fn),
  );
  const turn = () => queue.splice(0).forEach((f) => f());
  return { gc, log, turn };
}

t.test('one write per turn, replies after it, in order', async (t) => {
  const { gc, log, turn } = harness();
  gc.add(['a'], 1);
  gc.add([], 2);
  gc.add(['b', 'c'], 3);
  t.ok(gc.pending);
  t.same(log, [], 'nothing is written or answered inside the turn');
  turn();
  t.same(log, ['write a,b,c', 'committed 1,2,3']);
  t.notOk(gc.pending);
  gc.add(['d'], 4);
  turn();
  t.same(log.slice(2), ['write d', 'committed 4'], 'the next turn is its own batch');
});

t.test('a failed write answers nothing as committed and hands back the batch', async (t) => {
  const { gc, log, turn } = harness(1);
  gc.add(['a'], 1);
  gc.add(['b'], 2);
  turn();
  t.same(log, ['failed 1,2 [a,b] disk full']);
  gc.add(['c'], 3);
  turn();
  t.same(log.slice(1), ['write c', 'committed 3'], 'later batches go on');
});

t.test('flush() commits at once (stop) and an empty flush does nothing', async (t) => {
  const { gc, log, turn } = harness();
  gc.flush();
  t.same(log, []);
  gc.add(['a'], 1);
  gc.flush();
  t.same(log, ['write a', 'committed 1']);
  turn();
  t.same(log, ['write a', 'committed 1'], 'the scheduled flush finds nothing left');
  gc.add([], 2);
  gc.flush();
  t.same(log.slice(2), ['committed 2'], 'a token with no changes is answered without a write');
});

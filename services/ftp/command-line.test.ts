import t from 'tap';
import fc from 'fast-check';
import { CommandLineFramer, type FramedLine } from './command-line.js';

const feed = (f: CommandLineFramer, chunks: (string | number[])[]): FramedLine[] =>
  chunks.flatMap((c) =>
    f.push(typeof c === 'string' ? Buffer.from(c, 'utf8') : Uint8Array.from(c)),
  );
const lines = (out: FramedLine[]): string[] =>
  out.map((l) => (l.kind === 'line' ? l.line : '<too-long>'));

t.test('whole, byte by byte, with trailing bytes', async (t) => {
  const text = 'USER admin\r\nPASS x y\r\nNOOP\nRETR caf\u00e9.txt\r\nPA';
  t.same(lines(feed(new CommandLineFramer(), [text])), [
    'USER admin',
    'PASS x y',
    'NOOP',
    'RETR caf\u00e9.txt',
  ]);
  const f = new CommandLineFramer();
  const out = [...Buffer.from(text)].flatMap((b) => f.push(Uint8Array.of(b)));
  t.same(lines(out), ['USER admin', 'PASS x y', 'NOOP', 'RETR caf\u00e9.txt']);
  t.equal(f.pending(), 2, 'trailing "PA" held');
  t.same(lines(f.push(Buffer.from('SS\r\n'))), ['PASS']);
});

t.test('Telnet IAC sequences vanish; IAC IAC is 0xFF', async (t) => {
  const f = new CommandLineFramer();
  t.same(lines(feed(f, [[0xff, 0xf4, 0xff, 0xf2], 'ABOR\r\n'])), ['ABOR']);
  t.same(lines(feed(f, [[0xff, 0xfb, 0x01], 'NOOP\r\n'])), ['NOOP'], 'WILL ECHO skipped');
  t.same(
    feed(f, [[0x61, 0xff, 0xff, 0x0a]]).map((l) =>
      l.kind === 'line' ? Buffer.from(l.line, 'utf8') : null,
    ),
    [Buffer.from('a\ufffd', 'utf8')],
  );
});

t.test('a line over the limit is reported once and skipped', async (t) => {
  const f = new CommandLineFramer(16);
  t.same(lines(feed(f, ['x'.repeat(40), 'y'.repeat(40), '\r\nNOOP\r\n'])), ['<too-long>', 'NOOP']);
  t.same(lines(feed(f, ['x'.repeat(16) + '\r\n'])), ['x'.repeat(16)], 'exactly the limit passes');
  t.same(lines(feed(f, ['AUTH TLS\r\nUSER a'])), ['AUTH TLS']);
  f.reset();
  t.same(lines(feed(f, ['\r\n'])), [''], 'reset forgot the pipelined partial line');
});

t.test('property: any chunking gives the same lines', async () => {
  fc.assert(
    fc.property(
      fc.array(fc.stringMatching(/^[ -~]{0,30}$/), { maxLength: 8 }),
      fc.array(fc.integer({ min: 1, max: 7 })),
      (ls, cuts) => {
        const bytes = Buffer.from(ls.map((l) => l + '\r\n').join(''));
        const f = new CommandLineFramer();
        const out: FramedLine[] = [];
        let i = 0;
        let k = 0;
        while (i < bytes.length) {
          const n = cuts.length > 0 ? cuts[k++ % cuts.length]! : bytes.length;
          out.push(...f.push(bytes.subarray(i, i + n)));
          i += n;
        }
        return JSON.stringify(lines(out)) === JSON.stringify(ls);
      },
    ),
  );
});

/**
 * Test helpers (imported only by *.test.ts; named *-store.ts because it writes files): a temporary tree of three sites with the
 * awkward files the tests need (spaces, precompressed siblings, symlinks in and out of the
 * root, a big file, an unreadable directory), and a config with schema defaults applied.
 */
import { mkdtempSync, mkdirSync, writeFileSync, symlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync, brotliCompressSync } from 'node:zlib';
import { Value } from '@sinclair/typebox/value';
import { HttpConfig } from './config.js';

export interface Fixture {
  readonly dir: string;
  readonly big: Buffer;
  cleanup(): void;
}

export const SMALL_HTML = '<!DOCTYPE html><title>www</title><h1>www home</h1>\n';
export const TEXT_BODY = 'line of text that compresses well. '.repeat(40);

export function makeFixture(): Fixture {
  const dir = mkdtempSync(join(tmpdir(), 'netsvc-http-'));
  const w = (p: string, data: string | Buffer) => {
    const full = join(dir, p);
    mkdirSync(join(full, '..'), { recursive: true });
    writeFileSync(full, data);
  };
  w('www/index.html', SMALL_HTML);
  w('www/about us.html', '<p>about us</p>\n');
  w('www/404.html', '<h1>custom not found</h1>\n');
  w('www/images/pi logo.png', Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'));
  w('www/text.txt', TEXT_BODY);
  w('www/pre.css', 'body { color: red; }\n'.repeat(30));
  w('www/pre.css.gz', gzipSync(Buffer.from('body { color: red; }\n'.repeat(30))));
  w('www/pre.css.br', brotliCompressSync(Buffer.from('body { color: red; }\n'.repeat(30))));
  const big = Buffer.alloc(300_000);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 8)) & 0xff;
  w('www/big.bin', big);
  w('www/big.txt', 'a rather long line of text for streaming compression\n'.repeat(8000));
  w('www/empty.txt', '');
  w('www/sub/index.html', '<p>sub</p>\n');
  mkdirSync(join(dir, 'www/noindex'), { recursive: true });
  w('www/noindex/a file.txt', 'a');
  w('outside/secret.txt', 'secret\n');
  symlinkSync(join(dir, 'outside/secret.txt'), join(dir, 'www/leak.txt'));
  symlinkSync(join(dir, 'www/index.html'), join(dir, 'www/inside-link.html'));
  w('web1/index.html', '<h1>web1</h1>\n');
  w('web2/index.html', '<h1>web2</h1>\n');
  w('web2/photos/night sky.svg', '<svg xmlns="http://www.w3.org/2000/svg"/>\n');
  w('web2/photos/stripes.png', Buffer.from('89504e47', 'hex'));
  return { dir, big, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A full config (defaults applied) for the fixture; `patch` edits the raw document first. */
export function fixtureConfig(
  patch: (doc: Record<string, any>) => void = () => undefined,
): HttpConfig {
  const doc: Record<string, any> = {
    listen: { address: '127.0.0.1', port: 0 },
    fileCache: { maxFileBytes: 65536 }, // so big.bin and big.txt take the streaming path
    sites: [
      {
        name: 'www',
        default: true,
        serverNames: ['www.TIC2023.com', 'TIC2023.com'],
        root: 'www',
        errorPages: { '404': '/404.html' },
        cacheControl: 'public, max-age=300',
        accessLog: 'logs/www.access.log',
        errorLog: 'logs/www.error.log',
      },
      { name: 'web1', serverNames: ['web1.TIC2023.com'], root: 'web1' },
      {
        name: 'web2',
        serverNames: ['web2.TIC2023.com', '*.web2.TIC2023.com', 'web2.*'],
        root: 'web2',
        autoindex: true,
      },
    ],
  };
  patch(doc);
  const cfg = Value.Default(HttpConfig, doc) as HttpConfig;
  const errors = [...Value.Errors(HttpConfig, cfg)];
  if (errors.length > 0) throw new Error(errors.map((e) => `${e.path}: ${e.message}`).join('\n'));
  return cfg;
}

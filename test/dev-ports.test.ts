/**
 * No port of the dev profile (config/dev/*.yaml) is on the Fetch standard's bad-port list
 * (src/net/bad-ports.ts): `npm start` then "open the page" must work in every browser
 * (issue 17; 10080 was blocked with ERR_UNSAFE_PORT). Every key named `port` counts, at
 * any depth (listen, https, admin blocks, target lists), plus URLs with an explicit port.
 */
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { BAD_PORTS } from '../src/net/bad-ports.js';

const dir = fileURLToPath(new URL('../config/dev/', import.meta.url));

/** Every `port` value and every port in a URL string, with its path in the file. */
function collectPorts(node: unknown, path: string, out: Array<[string, number]>): void {
  if (Array.isArray(node)) {
    node.forEach((v, i) => collectPorts(v, `${path}/${i}`, out));
  } else if (node !== null && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === 'port' && typeof v === 'number') out.push([`${path}/${k}`, v]);
      else collectPorts(v, `${path}/${k}`, out);
    }
  } else if (typeof node === 'string' && /^https?:\/\//.test(node)) {
    const u = new URL(node);
    if (u.port !== '') out.push([path, Number(u.port)]);
  }
}

t.test('the bad-port list is the Fetch standard one', async (t) => {
  t.equal(BAD_PORTS.size, 83);
  t.ok(BAD_PORTS.has(10080));
  t.notOk(BAD_PORTS.has(18080));
});

const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f));
t.ok(files.length > 0, 'config/dev has YAML files');
for (const f of files) {
  t.test(f, async (t) => {
    const ports: Array<[string, number]> = [];
    collectPorts(parse(readFileSync(join(dir, f), 'utf8')), '', ports);
    for (const [where, port] of ports) {
      t.notOk(BAD_PORTS.has(port), `${f} ${where}: ${port} is not a browser-blocked port`);
    }
  });
}

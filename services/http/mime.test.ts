import t from 'tap';
import { mimeType, isCompressible, DEFAULT_TYPE } from './mime.js';
import { renderAutoindex, escapeHtml } from './autoindex.js';

t.test('media types', async (t) => {
  t.equal(mimeType('/a/index.html'), 'text/html; charset=utf-8');
  t.equal(mimeType('/a/INDEX.HTM'), 'text/html; charset=utf-8');
  t.equal(mimeType('/pi logo.png'), 'image/png');
  t.equal(mimeType('/night sky.svg'), 'image/svg+xml');
  t.equal(mimeType('/app.mjs'), 'application/javascript; charset=utf-8');
  t.equal(mimeType('/f.woff2'), 'font/woff2');
  t.equal(mimeType('/noext'), DEFAULT_TYPE);
  t.equal(mimeType('/dir.d/noext'), DEFAULT_TYPE);
  t.equal(mimeType('/x.unknownext'), DEFAULT_TYPE);
  t.ok(isCompressible('text/css; charset=utf-8'));
  t.ok(isCompressible('image/svg+xml'));
  t.notOk(isCompressible('image/png'));
});

t.test('autoindex page', async (t) => {
  const html = renderAutoindex('/photos/', [
    { name: 'night sky.svg', isDir: false },
    { name: '.hidden', isDir: false },
    { name: 'old', isDir: true },
    { name: '<b>.png', isDir: false },
  ]);
  t.match(
    html,
    '<a href="old/">old/</a>\n<a href="%3Cb%3E.png">&lt;b&gt;.png</a>\n<a href="night%20sky.svg">night sky.svg</a>',
  );
  t.notMatch(html, 'hidden');
  t.match(html, '<a href="../">');
  t.equal(escapeHtml(`<&"'>`), '&lt;&amp;&quot;&#39;&gt;');
});

import t from 'tap';
import { combinedLine, errorLine, escapeLog, timeLocal } from './access-log.js';

const now = Date.UTC(2023, 3, 5, 9, 7, 3);

t.test('combined log format', async (t) => {
  t.equal(timeLocal(now), '05/Apr/2023:09:07:03 +0000');
  t.equal(
    combinedLine(
      {
        remoteAddr: '192.168.1.10',
        method: 'GET',
        url: '/about%20us.html',
        httpVersion: '1.1',
        status: 200,
        bodyBytes: 512,
        referer: 'http://www.TIC2023.com/',
        userAgent: 'curl/7.88.1',
      },
      now,
    ),
    '192.168.1.10 - - [05/Apr/2023:09:07:03 +0000] "GET /about%20us.html HTTP/1.1" 200 512 "http://www.TIC2023.com/" "curl/7.88.1"\n',
  );
  t.equal(
    combinedLine(
      {
        remoteAddr: '::1',
        method: 'HEAD',
        url: '/',
        httpVersion: '1.0',
        status: 304,
        bodyBytes: 0,
        referer: undefined,
        userAgent: undefined,
      },
      now,
    ),
    '::1 - - [05/Apr/2023:09:07:03 +0000] "HEAD / HTTP/1.0" 304 0 "-" "-"\n',
  );
});

t.test('untrusted fields cannot forge lines', async (t) => {
  t.equal(escapeLog('a"b\\c\nd'), 'a\\x22b\\x5Cc\\x0Ad');
  t.equal(escapeLog('café'), 'caf\\xC3\\xA9');
  const line = combinedLine(
    {
      remoteAddr: '1.2.3.4',
      method: 'GET',
      url: '/',
      httpVersion: '1.1',
      status: 200,
      bodyBytes: 1,
      referer: undefined,
      userAgent: 'x"\n1.1.1.1 - - fake',
    },
    now,
  );
  t.equal(line.split('\n').length, 2);
});

t.test('error log line', async (t) => {
  t.equal(
    errorLine(
      {
        level: 'error',
        message: 'open() "/srv/x" failed (ENOENT)',
        client: '10.0.0.1',
        server: 'www.TIC2023.com',
        request: 'GET /x HTTP/1.1',
        host: 'www.tic2023.com',
      },
      now,
      42,
    ),
    '2023/04/05 09:07:03 [error] 42#0: open() \\x22/srv/x\\x22 failed (ENOENT), client: 10.0.0.1, server: www.TIC2023.com, request: "GET /x HTTP/1.1", host: "www.tic2023.com"\n',
  );
});

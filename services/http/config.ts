/**
 * Schema of `http.yaml`: listeners, limits, file cache, compression and the virtual hosts
 * (sites). Every default lives here with the precedent it follows (nginx 1.22 defaults
 * unless said otherwise), so the README table and `--check` come from one place.
 *
 * Paths: a site's `root`, `tls.cert` and `tls.key` resolve against the config dir; log
 * files resolve against the data dir (logs are state, and config is mounted read-only in
 * containers). `check()` reports roots or certificates that do not exist and clashing
 * server names.
 *
 * HTTP/2 (`listen.http2`, `https.http2`) reuses the HTTP/1.1 limits where nginx does:
 * maxHeaderBytes becomes SETTINGS_MAX_HEADER_LIST_SIZE, keepAliveTimeoutMs / keepAliveRequests
 * bound an idle connection and its requests, the connection caps count h2 connections.
 *
 * Left out: regex server names (`~^…`), per-location blocks other than proxy prefixes,
 * basic auth, request rate limits per client (connections per client are capped).
 */
import { Type, type Static } from '@sinclair/typebox';

const ms = (def: number, description: string) =>
  Type.Integer({ default: def, minimum: 0, description });

export const ProxyRoute = Type.Object(
  {
    prefix: Type.String({
      pattern: '^/',
      description:
        'Path prefix handed to the upstream, like nginx `location /prefix/ { proxy_pass … }`',
    }),
    upstream: Type.String({
      pattern: '^https?://',
      description:
        'Upstream URL. With a path (`http://h:p/x/`) the prefix is replaced by it, without one the path is passed unchanged (nginx proxy_pass rules)',
    }),
    preserveHost: Type.Boolean({
      default: false,
      description:
        'Send the client Host instead of the upstream host (nginx default `Host $proxy_host`)',
    }),
    connectTimeoutMs: ms(
      60000,
      'Upstream connect deadline, answer 504 (nginx proxy_connect_timeout 60s)',
    ),
    readTimeoutMs: ms(
      60000,
      'Upstream idle read deadline, answer 504 (nginx proxy_read_timeout 60s)',
    ),
  },
  { additionalProperties: false },
);
export type ProxyRoute = Static<typeof ProxyRoute>;

export const SiteConfig = Type.Object(
  {
    name: Type.String({
      pattern: '^[A-Za-z0-9_.-]+$',
      description: 'Short id of the site: metric label `site`, log tag, default log file names',
    }),
    serverNames: Type.Array(Type.String({ minLength: 1 }), {
      default: [],
      description:
        'Host names served (case-insensitive, port ignored): exact, `*.example.org` (any subdomain) or `www.*` (any suffix), like nginx server_name',
    }),
    default: Type.Boolean({
      default: false,
      description:
        'Answer requests whose Host matches no site or is missing (nginx default_server); first site if none',
    }),
    root: Type.String({ minLength: 1, description: 'Document root, relative to the config dir' }),
    index: Type.Array(Type.String({ minLength: 1, pattern: '^[^/]+$' }), {
      default: ['index.html'],
      description: 'Index files tried for a directory, in order (nginx `index index.html`)',
    }),
    autoindex: Type.Boolean({
      default: false,
      description:
        'List a directory without an index file instead of answering 403 (nginx autoindex off)',
    }),
    errorPages: Type.Record(
      Type.String({ pattern: '^[45][0-9][0-9]$' }),
      Type.String({ pattern: '^/' }),
      {
        default: {},
        description:
          'Status → path under the root served with that status, like nginx `error_page 404 /404.html`',
      },
    ),
    accessLog: Type.Union([Type.String({ minLength: 1 }), Type.Null()], {
      default: null,
      description: 'Access log file in the combined format (relative to the data dir); null = off',
    }),
    errorLog: Type.Union([Type.String({ minLength: 1 }), Type.Null()], {
      default: null,
      description:
        'Error log file, nginx error_log line format (relative to the data dir); null = off',
    }),
    cacheControl: Type.String({
      default: '',
      description:
        'Cache-Control sent with files, e.g. `public, max-age=300`; empty = none (nginx sends none)',
    }),
    followSymlinksOutsideRoot: Type.Boolean({
      default: false,
      description:
        'Serve symlinks whose target lies outside the root (nginx `disable_symlinks` off); off refuses them with 404',
    }),
    precompressed: Type.Boolean({
      default: true,
      description:
        'Serve `file.br`/`file.gz` siblings when the client accepts them (nginx gzip_static/brotli_static)',
    }),
    compress: Type.Boolean({
      default: true,
      description: 'Compress text types on the fly with brotli or gzip (nginx gzip on)',
    }),
    tls: Type.Union(
      [
        Type.Object(
          {
            cert: Type.String({
              minLength: 1,
              description: 'PEM certificate chain file, relative to the config dir',
            }),
            key: Type.String({
              minLength: 1,
              description: 'PEM private key file, relative to the config dir',
            }),
          },
          { additionalProperties: false },
        ),
        Type.Null(),
      ],
      {
        default: null,
        description: 'Certificate for this site on the HTTPS listener (chosen by SNI); null = none',
      },
    ),
    redirectToHttps: Type.Boolean({
      default: false,
      description:
        'Answer plain-HTTP requests with 301 to the https:// URL (needs tls and https.enabled)',
    }),
    proxy: Type.Array(ProxyRoute, {
      default: [],
      description: 'Path prefixes passed to an upstream (reverse proxy); longest prefix wins',
    }),
  },
  { additionalProperties: false },
);
export type SiteConfig = Static<typeof SiteConfig>;

export const HttpConfig = Type.Object(
  {
    enabled: Type.Boolean({ default: true, description: 'Run the HTTP service' }),
    listen: Type.Object(
      {
        address: Type.String({ default: '127.0.0.1', description: 'Plain HTTP listener address' }),
        port: Type.Integer({
          default: 18080,
          minimum: 0,
          maximum: 65535,
          description: 'Plain HTTP port; 0 picks a free one',
        }),
        http2: Type.Boolean({
          default: true,
          description:
            'Also serve HTTP/2 with prior knowledge (h2c, RFC 9113 §3.3) on this port: a connection opening with the client preface speaks HTTP/2, any other HTTP/1.1 (nginx `listen … http2` / `http2 on;`)',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    https: Type.Object(
      {
        enabled: Type.Boolean({
          default: false,
          description: 'Open the HTTPS listener (sites with `tls`)',
        }),
        address: Type.String({ default: '127.0.0.1', description: 'HTTPS listener address' }),
        port: Type.Integer({
          default: 18443,
          minimum: 0,
          maximum: 65535,
          description: 'HTTPS port; 0 picks a free one',
        }),
        http2: Type.Boolean({
          default: true,
          description:
            'Offer `h2` before `http/1.1` in TLS ALPN (RFC 9113 §3.2, RFC 7301); clients without it keep HTTP/1.1 (nginx `listen 443 ssl http2` / `http2 on;`)',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    limits: Type.Object(
      {
        maxHeaderBytes: Type.Integer({
          default: 32768,
          minimum: 1024,
          description:
            'Request line + header fields, else 431 (nginx large_client_header_buffers 4 8k)',
        }),
        maxUriBytes: Type.Integer({
          default: 8192,
          minimum: 256,
          description:
            'Request target length, else 414 (nginx: the request line must fit one 8k buffer)',
        }),
        maxBodyBytes: Type.Integer({
          default: 1048576,
          minimum: 0,
          description: 'Declared request body size, else 413 (nginx client_max_body_size 1m)',
        }),
        headersTimeoutMs: ms(
          60000,
          'Time to receive the request head, else 408 (nginx client_header_timeout 60s)',
        ),
        requestTimeoutMs: ms(
          300000,
          'Time to receive the whole request, else 408 (Node.js requestTimeout default; nginx only times single reads)',
        ),
        idleTimeoutMs: ms(
          60000,
          'Socket inactivity during a request or response (nginx client_body_timeout / send_timeout 60s)',
        ),
        keepAliveTimeoutMs: ms(
          65000,
          'Idle keep-alive connection lifetime (reference deployment: keepalive_timeout 65)',
        ),
        keepAliveRequests: Type.Integer({
          default: 1000,
          minimum: 0,
          description:
            'Requests per connection before it is closed; 0 = unlimited (nginx keepalive_requests 1000)',
        }),
        maxConnections: Type.Integer({
          default: 1024,
          minimum: 1,
          description:
            'Open client connections per listener; at the cap the connection waiting longest for a request head is closed to make room, and a new one is refused only when all are mid-request (nginx worker_connections 1024 in the peer config; nginx closes reusable keep-alive connections first)',
        }),
        maxConcurrentStreams: Type.Integer({
          default: 128,
          minimum: 1,
          maximum: 2147483647,
          description:
            'HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS: requests open at once on one connection (RFC 9113 §5.1.2; nginx http2_max_concurrent_streams 128)',
        }),
        maxConnectionsPerSource: Type.Integer({
          default: 64,
          minimum: 0,
          description:
            'Open connections per client address over both listeners; more are closed at accept; 0 = no cap (nginx limit_conn per $binary_remote_addr)',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    fileCache: Type.Object(
      {
        validMs: ms(
          1000,
          'How long a stat/ETag result is trusted before the file is checked again (nginx open_file_cache_valid, 60s there)',
        ),
        maxEntries: Type.Integer({
          default: 1024,
          minimum: 0,
          description: 'Cached path lookups (nginx open_file_cache max=…); 0 = off',
        }),
        maxFileBytes: Type.Integer({
          default: 1048576,
          minimum: 0,
          description:
            'Files up to this size are kept in memory and written from one shared buffer (nginx relies on the page cache and sendfile instead)',
        }),
        maxBytes: Type.Integer({
          default: 16777216,
          minimum: 0,
          description:
            'Total bytes of file bodies (and their compressed forms) kept in memory; least recently checked go first',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    compression: Type.Object(
      {
        minBytes: Type.Integer({
          default: 256,
          minimum: 0,
          description:
            'Smaller bodies are sent as they are (nginx gzip_min_length 20; 256 pays off better)',
        }),
        gzipLevel: Type.Integer({
          default: 6,
          minimum: 1,
          maximum: 9,
          description: 'zlib level (nginx gzip_comp_level 1; 6 is zlib’s default)',
        }),
        brotliQuality: Type.Integer({
          default: 5,
          minimum: 0,
          maximum: 11,
          description: 'Brotli quality for on-the-fly compression (Pi-friendly)',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    sites: Type.Array(SiteConfig, { default: [], description: 'Virtual hosts' }),
  },
  { additionalProperties: false, default: {} },
);
export type HttpConfig = Static<typeof HttpConfig>;

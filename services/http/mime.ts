/**
 * File extension → media type (RFC 9110 §8.3 Content-Type, RFC 6838 names), covering the
 * types nginx ships in `mime.types` plus current web formats (avif, webp, woff2, wasm,
 * mjs). Unknown extensions get `application/octet-stream` (nginx `default_type`).
 *
 * Text types carry `charset=utf-8` (nginx has `charset off` by default and sends none;
 * our example sites are UTF-8 and browsers otherwise guess). `isCompressible` says which
 * types are worth gzip/brotli (nginx `gzip_types`, widened to the usual text formats).
 *
 * Left out: content sniffing, per-site overrides.
 */

const T: Record<string, string> = {
  // text
  html: 'text/html',
  htm: 'text/html',
  shtml: 'text/html',
  css: 'text/css',
  xml: 'text/xml',
  txt: 'text/plain',
  md: 'text/markdown',
  csv: 'text/csv',
  ics: 'text/calendar',
  mml: 'text/mathml',
  jad: 'text/vnd.sun.j2me.app-descriptor',
  wml: 'text/vnd.wap.wml',
  htc: 'text/x-component',
  vtt: 'text/vtt',
  js: 'application/javascript',
  mjs: 'application/javascript',
  json: 'application/json',
  map: 'application/json',
  jsonld: 'application/ld+json',
  webmanifest: 'application/manifest+json',
  atom: 'application/atom+xml',
  rss: 'application/rss+xml',
  xhtml: 'application/xhtml+xml',
  xspf: 'application/xspf+xml',
  kml: 'application/vnd.google-earth.kml+xml',
  // images
  gif: 'image/gif',
  jpeg: 'image/jpeg',
  jpg: 'image/jpeg',
  png: 'image/png',
  svg: 'image/svg+xml',
  svgz: 'image/svg+xml',
  tif: 'image/tiff',
  tiff: 'image/tiff',
  wbmp: 'image/vnd.wap.wbmp',
  webp: 'image/webp',
  avif: 'image/avif',
  ico: 'image/x-icon',
  jng: 'image/x-jng',
  bmp: 'image/x-ms-bmp',
  apng: 'image/apng',
  // fonts
  woff: 'font/woff',
  woff2: 'font/woff2',
  ttf: 'font/ttf',
  otf: 'font/otf',
  eot: 'application/vnd.ms-fontobject',
  // applications
  jar: 'application/java-archive',
  war: 'application/java-archive',
  ear: 'application/java-archive',
  hqx: 'application/mac-binhex40',
  doc: 'application/msword',
  pdf: 'application/pdf',
  ps: 'application/postscript',
  eps: 'application/postscript',
  ai: 'application/postscript',
  rtf: 'application/rtf',
  m3u8: 'application/vnd.apple.mpegurl',
  kmz: 'application/vnd.google-earth.kmz',
  xls: 'application/vnd.ms-excel',
  ppt: 'application/vnd.ms-powerpoint',
  odg: 'application/vnd.oasis.opendocument.graphics',
  odp: 'application/vnd.oasis.opendocument.presentation',
  ods: 'application/vnd.oasis.opendocument.spreadsheet',
  odt: 'application/vnd.oasis.opendocument.text',
  pptx: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  wasm: 'application/wasm',
  '7z': 'application/x-7z-compressed',
  cco: 'application/x-cocoa',
  jardiff: 'application/x-java-archive-diff',
  jnlp: 'application/x-java-jnlp-file',
  run: 'application/x-makeself',
  pl: 'application/x-perl',
  pm: 'application/x-perl',
  prc: 'application/x-pilot',
  pdb: 'application/x-pilot',
  rar: 'application/x-rar-compressed',
  rpm: 'application/x-redhat-package-manager',
  sea: 'application/x-sea',
  swf: 'application/x-shockwave-flash',
  sit: 'application/x-stuffit',
  tcl: 'application/x-tcl',
  tk: 'application/x-tcl',
  der: 'application/x-x509-ca-cert',
  pem: 'application/x-x509-ca-cert',
  crt: 'application/x-x509-ca-cert',
  xpi: 'application/x-xpinstall',
  zip: 'application/zip',
  gz: 'application/gzip',
  tgz: 'application/gzip',
  bz2: 'application/x-bzip2',
  xz: 'application/x-xz',
  zst: 'application/zstd',
  tar: 'application/x-tar',
  sh: 'application/x-sh',
  bin: 'application/octet-stream',
  exe: 'application/octet-stream',
  dll: 'application/octet-stream',
  deb: 'application/octet-stream',
  dmg: 'application/octet-stream',
  iso: 'application/octet-stream',
  img: 'application/octet-stream',
  msi: 'application/octet-stream',
  msp: 'application/octet-stream',
  msm: 'application/octet-stream',
  // audio
  mid: 'audio/midi',
  midi: 'audio/midi',
  kar: 'audio/midi',
  mp3: 'audio/mpeg',
  ogg: 'audio/ogg',
  oga: 'audio/ogg',
  opus: 'audio/ogg',
  m4a: 'audio/x-m4a',
  ra: 'audio/x-realaudio',
  wav: 'audio/wav',
  flac: 'audio/flac',
  aac: 'audio/aac',
  // video
  '3gpp': 'video/3gpp',
  '3gp': 'video/3gpp',
  ts: 'video/mp2t',
  mp4: 'video/mp4',
  m4v: 'video/x-m4v',
  mpeg: 'video/mpeg',
  mpg: 'video/mpeg',
  mov: 'video/quicktime',
  webm: 'video/webm',
  ogv: 'video/ogg',
  flv: 'video/x-flv',
  mng: 'video/x-mng',
  asx: 'video/x-ms-asf',
  asf: 'video/x-ms-asf',
  wmv: 'video/x-ms-wmv',
  avi: 'video/x-msvideo',
  mkv: 'video/x-matroska',
};

export const DEFAULT_TYPE = 'application/octet-stream';

const COMPRESSIBLE = new Set([
  'application/javascript',
  'application/json',
  'application/ld+json',
  'application/manifest+json',
  'application/atom+xml',
  'application/rss+xml',
  'application/xhtml+xml',
  'application/xspf+xml',
  'image/svg+xml',
  'application/wasm',
  'image/x-icon',
  'image/x-ms-bmp',
  'font/ttf',
  'font/otf',
  'application/vnd.ms-fontobject',
  'application/vnd.google-earth.kml+xml',
  'application/x-sh',
  'application/x-perl',
  'application/x-tcl',
  'application/rtf',
  'application/postscript',
]);

/** Media type of a file name (case-insensitive extension), with charset for text. */
export function mimeType(fileName: string): string {
  const dot = fileName.lastIndexOf('.');
  if (dot === -1 || dot < fileName.lastIndexOf('/')) return DEFAULT_TYPE;
  const t = T[fileName.slice(dot + 1).toLowerCase()];
  if (t === undefined) return DEFAULT_TYPE;
  return hasCharset(t) ? t + '; charset=utf-8' : t;
}

function hasCharset(t: string): boolean {
  return (
    t.startsWith('text/') ||
    t === 'application/javascript' ||
    t === 'application/json' ||
    t === 'application/xhtml+xml' ||
    t === 'application/manifest+json' ||
    t === 'application/ld+json'
  );
}

/** Worth compressing: text/*, and the structured/text-like application types above. */
export function isCompressible(contentType: string): boolean {
  if (contentType.startsWith('text/')) return true;
  const semi = contentType.indexOf(';');
  return COMPRESSIBLE.has(semi === -1 ? contentType : contentType.slice(0, semi));
}

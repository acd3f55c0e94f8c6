/**
 * Built-in error bodies: a short HTML page per status, in nginx's shape, and the reason
 * phrases (RFC 9110 §15). A site's own pages (`errorPages`) take precedence; they are
 * looked up by the adapter. Bodies are built once per status and reused.
 */

/** Reason phrases of the statuses this service sends (RFC 9110 §15). */
const REASONS: Record<number, string> = {
  200: 'OK',
  206: 'Partial Content',
  301: 'Moved Permanently',
  304: 'Not Modified',
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  414: 'URI Too Long',
  416: 'Range Not Satisfiable',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

const pages = new Map<number, Buffer>();

export function reasonPhrase(status: number): string {
  return REASONS[status] ?? (status < 500 ? 'Client Error' : 'Server Error');
}

export function defaultErrorBody(status: number): Buffer {
  let b = pages.get(status);
  if (b === undefined) {
    const line = `${status} ${reasonPhrase(status)}`;
    b = Buffer.from(
      `<html>\r\n<head><title>${line}</title></head>\r\n<body>\r\n<center><h1>${line}</h1></center>\r\n<hr><center>netsvc</center>\r\n</body>\r\n</html>\r\n`,
    );
    pages.set(status, b);
  }
  return b;
}

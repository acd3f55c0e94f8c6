/**
 * Built-in error bodies: a short HTML page per status, in nginx's shape, and the reason
 * phrases (RFC 9110 §15). A site's own pages (`errorPages`) take precedence; they are
 * looked up by the adapter. Bodies are built once per status and reused.
 */
import { STATUS_CODES } from 'node:http';

const pages = new Map<number, Buffer>();

export function reasonPhrase(status: number): string {
  return STATUS_CODES[status] ?? 'Error';
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

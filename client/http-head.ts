/** An HTTP/1.1 response head, as a node's answers read off a raw connection have it. */
export interface ResponseHead {
  status: number;
  /** Lowercase names; a header seen twice keeps its first value. */
  headers: Map<string, string>;
  /** Where the body starts in the bytes the head was read from. */
  bodyAt: number;
}

/**
 * The response head at the start of `bytes`: undefined while it is not all in; throws an
 * Error naming what is wrong if it is malformed or longer than `limit` bytes. Only two
 * different Content-Lengths count as malformed among repeated headers (a proxy may add
 * Set-Cookie, Via, ...): they make the body's end unknowable.
 */
export function parseResponseHead(bytes: Buffer, limit: number): ResponseHead | undefined {
  const end = bytes.indexOf("\r\n\r\n");
  if (end < 0) {
    if (bytes.length > limit) throw new Error("head too long");
    return undefined;
  }
  const [statusLine = "", ...lines] = bytes.toString("latin1", 0, end).split("\r\n");
  const status = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(statusLine);
  if (!status) throw new Error("not an HTTP/1.1 answer");
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const conflict = name === "content-length" && (headers.get(name) ?? value) !== value;
    if (colon <= 0 || conflict) throw new Error("malformed headers");
    if (!headers.has(name)) headers.set(name, value);
  }
  return { status: Number(status[1]), headers, bodyAt: end + 4 };
}

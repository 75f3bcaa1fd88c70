/**
 * The mechanics of one HTTP exchange: reading a body within a bound,
 * writing JSON, and turning ringkv's error taxonomy (`core/errors.ts`) into
 * status codes. Route handlers (`http_routes.ts`) use these and never touch
 * sockets.
 *
 * Error mapping (body `{ "error": code, "message": text }` in every case):
 *   INVALID_REQUEST 400 · UNAVAILABLE 503 · TIMEOUT 504 (reads only: a
 *   write's timeout is INDETERMINATE) · OVERLOADED 503 + Retry-After ·
 *   INDETERMINATE 500 (a write that may or may not have been applied: read
 *   the key before retrying; not 503/504, which HTTP clients retry on their
 *   own) · CORRUPTION 500 · anything else 500 with code INTERNAL and a
 *   generic message (the detail is logged by the server, never sent).
 *
 * Thread contract: main thread only (node:http objects).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RingkvError } from '../core/errors.js';
import { HTTP_LINGER_MS, HTTP_RETRY_AFTER_S } from '../core/limits.js';

/** An error the HTTP layer itself answers with (401, 404 route, 405, 413), outside the cluster's taxonomy. */
export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    /** The status code to answer with. */
    readonly status: number,
    /** Stable machine-readable code for the body. */
    readonly code: string,
    message: string,
    /** Extra response headers (Allow for 405, WWW-Authenticate for 401: an array is one line per element). */
    readonly headers: ResponseHeaders = {},
  ) {
    super(message);
  }
}

/** Extra headers of a response; an array value is sent as one header line per element. */
export type ResponseHeaders = Record<string, string | string[]>;

/** What the body of a request turned out to be. */
export type BodyResult = { ok: true; body: Buffer } | { ok: false; declaredOrSeenBytes: number };

/**
 * Read `req`'s body if it is at most `maxBytes`. A body declared larger
 * (Content-Length) is refused before a byte is read; a chunked body is
 * refused as soon as it passes the bound, and what was read is dropped. On
 * refusal the request stream is paused: `refuseTooLarge` decides what
 * happens to the rest.
 */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<BodyResult> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBytes) return Promise.resolve({ ok: false, declaredOrSeenBytes: Number(declared) });
  // Listeners, not `for await`: leaving an async iterator early destroys the stream and the socket with it.
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const settle = (): void => {
      req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      total += chunk.length;
      if (total <= maxBytes) {
        chunks.push(chunk);
        return;
      }
      settle();
      req.pause();
      resolve({ ok: false, declaredOrSeenBytes: total });
    };
    const onEnd = (): void => {
      settle();
      resolve({ ok: true, body: Buffer.concat(chunks, total) });
    };
    const onError = (err: Error): void => {
      settle();
      reject(err);
    };
    const onClose = (): void => {
      settle();
      reject(new HttpError(400, 'ABORTED', 'the client closed the connection before the body ended'));
    };
    req.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  });
}

/**
 * Answer 413 (JSON with the limit in `limit_bytes`) and close the connection. The rest of the body is read and
 * discarded (never buffered) for at most HTTP_LINGER_MS, so the client's
 * upload does not end in a reset that would hide the answer (nginx's
 * "lingering close"); then the socket is destroyed.
 */
export function refuseTooLarge(req: IncomingMessage, res: ServerResponse, maxBytes: number, seenBytes: number): void {
  const socket = req.socket;
  res.once('finish', () => {
    const linger = setTimeout(() => socket.destroy(), HTTP_LINGER_MS);
    linger.unref();
    socket.once('close', () => clearTimeout(linger));
  });
  req.on('data', () => undefined);
  req.resume();
  sendJson(
    res,
    413,
    {
      error: 'PAYLOAD_TOO_LARGE',
      message: `the body is at least ${seenBytes} bytes, over the value limit of ${maxBytes} bytes; store a smaller value (or split it across keys)`,
      limit_bytes: maxBytes,
    },
    { connection: 'close' },
  );
}

/** Send `body` as JSON with `status`. Buffers and byte arrays anywhere in it become base64 strings. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: ResponseHeaders = {}): void {
  const text = JSON.stringify(body, bytesAsBase64);
  res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** What a client is told of an error outside the taxonomy (a bug): no detail, what to do. */
export const INTERNAL_ERROR_MESSAGE = 'internal error: the request may not have completed; if it was a write, read the key before retrying; the server log has the detail';

/** Answer with the status code and JSON body `err` maps to. Returns the status sent. */
export function sendError(res: ServerResponse, err: unknown): number {
  const { status, code, headers } = errorResponse(err);
  const message = err instanceof RingkvError || err instanceof HttpError ? err.message : INTERNAL_ERROR_MESSAGE;
  sendJson(res, status, { error: code, message }, headers);
  return status;
}

/** The status code, body code and extra headers for `err`. */
export function errorResponse(err: unknown): { status: number; code: string; headers: ResponseHeaders } {
  if (err instanceof HttpError) return { status: err.status, code: err.code, headers: err.headers };
  if (err instanceof RingkvError) {
    switch (err.code) {
      case 'INVALID_REQUEST':
        return { status: 400, code: err.code, headers: {} };
      case 'UNAVAILABLE':
        return { status: 503, code: err.code, headers: {} };
      case 'TIMEOUT':
        return { status: 504, code: err.code, headers: {} };
      case 'OVERLOADED':
        return { status: 503, code: err.code, headers: { 'retry-after': String(HTTP_RETRY_AFTER_S) } };
      case 'CORRUPTION':
      case 'INDETERMINATE':
      case 'INVALID_CONFIG':
      case 'DATA_DIR':
        return { status: 500, code: err.code, headers: {} };
    }
  }
  return { status: 500, code: 'INTERNAL', headers: {} };
}

/** JSON replacer: Buffers and Uint8Arrays as base64 (a Buffer's own toJSON would give a byte array). */
function bytesAsBase64(this: unknown, key: string, value: unknown): unknown {
  const raw = (this as Record<string, unknown>)[key];
  if (raw instanceof Uint8Array) return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64');
  return value;
}

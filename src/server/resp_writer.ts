/**
 * Reply values and their encoding in RESP2 and RESP3.
 *
 *   simple   +OK\r\n                 error    -ERR message\r\n
 *   integer  :42\r\n                 bulk     $5\r\nhello\r\n
 *   null     $-1\r\n (RESP2)         array    *2\r\n<reply><reply>
 *            _\r\n   (RESP3)
 *   map      *4\r\n<k><v><k><v> (RESP2: a flat array)
 *            %2\r\n<k><v><k><v> (RESP3)
 *
 * Simple strings and errors are one line: a CR or LF in them is replaced by a
 * space so a message can never break the framing.
 *
 * Pure: no I/O. Safe from any thread.
 */
import { assert } from '../core/assert.js';

/** One reply, before encoding. */
export type Reply =
  | { type: 'simple'; text: string }
  | { type: 'error'; text: string }
  | { type: 'integer'; value: number }
  | { type: 'bulk'; value: Buffer | string }
  | { type: 'null' }
  | { type: 'array'; items: readonly Reply[] }
  | { type: 'map'; entries: readonly (readonly [Reply, Reply])[] };

/** RESP protocol version a connection speaks (HELLO switches it). */
export type Protocol = 2 | 3;

/** `+OK`. */
export const OK: Reply = { type: 'simple', text: 'OK' };
/** The null reply (`$-1` or `_`). */
export const NULL: Reply = { type: 'null' };

/** A simple string. */
export function simple(text: string): Reply {
  return { type: 'simple', text };
}

/** An error; `text` starts with its prefix word, e.g. "ERR syntax error". */
export function error(text: string): Reply {
  return { type: 'error', text };
}

/** An integer. */
export function integer(value: number): Reply {
  assert(Number.isSafeInteger(value), 'an integer reply is an exact integer');
  return { type: 'integer', value };
}

/** A bulk string (a string is sent as UTF-8). */
export function bulk(value: Buffer | string): Reply {
  return { type: 'bulk', value };
}

/** An array. */
export function array(items: readonly Reply[]): Reply {
  return { type: 'array', items };
}

/** A map of bulk-string keys (a flat array in RESP2). */
export function map(entries: readonly (readonly [string, Reply])[]): Reply {
  return { type: 'map', entries: entries.map(([k, v]) => [bulk(k), v] as const) };
}

/** Encode `reply` into `out` (pieces to write in order). */
export function encodeReply(reply: Reply, protocol: Protocol, out: (Buffer | string)[]): void {
  switch (reply.type) {
    case 'simple':
      out.push(`+${oneLine(reply.text)}\r\n`);
      return;
    case 'error':
      out.push(`-${oneLine(reply.text)}\r\n`);
      return;
    case 'integer':
      out.push(`:${reply.value}\r\n`);
      return;
    case 'bulk': {
      const bytes = typeof reply.value === 'string' ? Buffer.from(reply.value, 'utf8') : reply.value;
      out.push(`$${bytes.length}\r\n`, bytes, '\r\n');
      return;
    }
    case 'null':
      out.push(protocol === 3 ? '_\r\n' : '$-1\r\n');
      return;
    case 'array':
      out.push(`*${reply.items.length}\r\n`);
      for (const item of reply.items) encodeReply(item, protocol, out);
      return;
    case 'map':
      out.push(protocol === 3 ? `%${reply.entries.length}\r\n` : `*${reply.entries.length * 2}\r\n`);
      for (const [key, value] of reply.entries) {
        encodeReply(key, protocol, out);
        encodeReply(value, protocol, out);
      }
      return;
  }
}

/** Encode `reply` into one Buffer. */
export function encodeReplyToBuffer(reply: Reply, protocol: Protocol): Buffer {
  const pieces: (Buffer | string)[] = [];
  encodeReply(reply, protocol, pieces);
  return Buffer.concat(pieces.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p)));
}

function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ');
}

/**
 * Parsing what an HTTP request says into the cluster API's terms: the key
 * from a percent-encoded path segment (any bytes), and `ReadOptions` /
 * `WriteOptions` from the query string and the `X-Ringkv-Context` header.
 * Everything a client can get wrong throws `InvalidRequestError` with a
 * message saying what to send instead (the server answers 400).
 *
 * Pure functions; safe from any thread.
 */
import type { ReadOptions, WriteOptions } from '../cluster/cluster_types.js';
import { CONSISTENCY_LEVELS, type ConsistencyLevel, type Requirement } from '../core/consistency.js';
import { InvalidRequestError } from '../core/errors.js';
import { KEY_MAX_BYTES } from '../core/limits.js';

/** The request header (and response header) carrying a causal context. */
export const CONTEXT_HEADER = 'x-ringkv-context';

/** Query parameters a read accepts. */
const READ_PARAMS = ['r', 'consistency'] as const;
/** Query parameters a write (PUT or DELETE) accepts. */
const WRITE_PARAMS = ['w', 'consistency', 'strict'] as const;

/**
 * The key named by `segment`, a path segment as sent (still percent-encoded).
 * Percent escapes decode to raw bytes, so a key may hold any bytes (`%00`,
 * `%FF`, `%2F` for '/'); other characters stand for their UTF-8 bytes.
 */
export function decodeKeySegment(segment: string): Buffer {
  if (segment.length === 0) throw new InvalidRequestError('the key is empty: send /kv/<key>, percent-encoding any byte that is not a plain URL character');
  const bytes: number[] = [];
  for (let i = 0; i < segment.length; i++) {
    const ch = segment.charCodeAt(i);
    if (ch === 0x25 /* % */) {
      const hex = segment.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) {
        throw new InvalidRequestError(`bad percent escape "${segment.slice(i, i + 3)}" in the key: write a byte as % and two hex digits (a literal % is %25)`);
      }
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (ch === 0x2f /* / */) {
      throw new InvalidRequestError('the key is one path segment: percent-encode "/" inside a key as %2F');
    } else {
      // Characters outside ASCII arrive only if the client sent raw UTF-8, which node:http reads as latin1.
      bytes.push(ch & 0xff);
    }
    if (bytes.length > KEY_MAX_BYTES) throw new InvalidRequestError(`the key is longer than ${KEY_MAX_BYTES} bytes; use a shorter key`);
  }
  return Buffer.from(bytes);
}

/** `ReadOptions` from a GET's query (`r`, `consistency`). */
export function readOptionsFrom(query: URLSearchParams): ReadOptions {
  checkKnownParams(query, READ_PARAMS);
  const options: ReadOptions = {};
  const r = single(query, 'r');
  const consistency = single(query, 'consistency');
  if (r !== null && consistency !== null) throw new InvalidRequestError('give either r or consistency, not both');
  if (r !== null) options.r = parseRequirement('r', r);
  if (consistency !== null) options.consistency = parseLevel(consistency);
  return options;
}

/** `WriteOptions` from a PUT's or DELETE's query (`w`, `consistency`, `strict`) and context header (absent = ''). */
export function writeOptionsFrom(query: URLSearchParams, contextHeader: string | string[] | undefined): WriteOptions {
  checkKnownParams(query, WRITE_PARAMS);
  const options: WriteOptions = { context: parseContextHeader(contextHeader) };
  const w = single(query, 'w');
  const consistency = single(query, 'consistency');
  const strict = single(query, 'strict');
  if (w !== null && consistency !== null) throw new InvalidRequestError('give either w or consistency, not both');
  if (w !== null) options.w = parseRequirement('w', w);
  if (consistency !== null) options.consistency = parseLevel(consistency);
  if (strict !== null) options.strict = parseBoolean('strict', strict);
  return options;
}

/** A replica count (a positive integer) or a named level. */
export function parseRequirement(name: string, text: string): Requirement {
  if (/^[0-9]+$/.test(text)) {
    const count = Number(text);
    if (Number.isSafeInteger(count) && count >= 1) return count;
  }
  if (isLevel(text)) return text;
  throw new InvalidRequestError(`${name}=${JSON.stringify(text)} is neither a replica count (a whole number from 1) nor one of ${CONSISTENCY_LEVELS.join(', ')}`);
}

/** A named consistency level. */
function parseLevel(text: string): ConsistencyLevel {
  if (isLevel(text)) return text;
  throw new InvalidRequestError(`consistency=${JSON.stringify(text)} is not a level; use one of ${CONSISTENCY_LEVELS.join(', ')} (or a count in r/w)`);
}

function isLevel(text: string): text is ConsistencyLevel {
  return (CONSISTENCY_LEVELS as readonly string[]).includes(text);
}

function parseBoolean(name: string, text: string): boolean {
  if (text === 'true' || text === '1') return true;
  if (text === 'false' || text === '0') return false;
  throw new InvalidRequestError(`${name}=${JSON.stringify(text)} is not a boolean; use true or false`);
}

/** The context header's value: '' when absent; one header only. */
function parseContextHeader(header: string | string[] | undefined): string {
  if (header === undefined) return '';
  if (Array.isArray(header)) throw new InvalidRequestError('send X-Ringkv-Context once: the context of the read you are superseding');
  return header.trim();
}

/** The one value of query parameter `name`, or null when absent. */
function single(query: URLSearchParams, name: string): string | null {
  const values = query.getAll(name);
  if (values.length > 1) throw new InvalidRequestError(`query parameter ${name} is given ${values.length} times; give it once`);
  return values[0] ?? null;
}

/** Refuse unknown parameters, so a typo (`W=2`) is not silently ignored. */
function checkKnownParams(query: URLSearchParams, known: readonly string[]): void {
  for (const name of query.keys()) {
    if (!known.includes(name)) {
      throw new InvalidRequestError(`unknown query parameter ${JSON.stringify(name)}; this request accepts ${known.join(', ')}`);
    }
  }
}

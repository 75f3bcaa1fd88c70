/**
 * Incremental parser of RESP2 requests: what one connection's client sends.
 *
 * A request is either an array of bulk strings (what every client library
 * sends) or an inline command (a line of words, for telnet and nc):
 *
 *   *<count>\r\n  then <count> times:  $<length>\r\n <length bytes> \r\n
 *   <word> <word> ... \n        (inline; "..." and '...' quote words)
 *
 * Bounds (see `RespParserLimits`): a length line longer than
 * RESP_LENGTH_LINE_MAX_BYTES, an inline line longer than `inlineMaxBytes`, a
 * count above `arrayMaxElements`, a length above `bulkMaxBytes`, a negative or
 * non-numeric length, a missing CRLF, or a RESP type byte where a request
 * must start ('$', ':', '+', '-' and the RESP3 types) is a protocol error.
 * So is holding more than `queryBufferMaxBytes` of an unfinished request. After
 * a protocol error the parser answers that error forever: the connection
 * replies with it and closes. Deviation from Redis: Redis ignores `*-5`; we
 * refuse every negative count (`*0` and `*-1` are skipped, as in Redis).
 *
 * Memory: bytes received go into one growable buffer (capacity doubling, so
 * each byte is copied O(1) times amortized, never re-concatenated per chunk);
 * a finished bulk is copied out once into its own Buffer. The line scan
 * resumes where it stopped, so a line arriving byte by byte is scanned once.
 *
 * Thread contract: one parser per connection, used from one thread.
 */
import { assert } from '../core/assert.js';
import { RESP_LENGTH_LINE_MAX_BYTES } from '../core/limits.js';

/** The bounds a parser enforces; they may change between calls (authentication lifts them). */
export interface RespParserLimits {
  /** Largest bulk string. */
  bulkMaxBytes: number;
  /** Elements of one request array. */
  arrayMaxElements: number;
  /** Longest inline command line. */
  inlineMaxBytes: number;
  /** Bytes of unparsed input plus the parts of an unfinished request. */
  queryBufferMaxBytes: number;
}

/** One parse outcome. */
export type ParseResult =
  | { type: 'command'; args: Buffer[]; inline: boolean }
  | { type: 'error'; message: string };

/** Capacity a fresh or shrunk buffer starts with. */
const INITIAL_CAPACITY_BYTES = 16 * 1024;
const CR = 0x0d;
const LF = 0x0a;
/** Type bytes of RESP replies and RESP3 types: a request never starts with one. */
const REPLY_TYPE_BYTES = new Set([...'$+-:_,#!=(%~>|'].map((c) => c.charCodeAt(0)));

/** Parses one connection's requests; see the file header. */
export class RespParser {
  /** Received bytes; [start, end) are not parsed yet. */
  private buffer = Buffer.allocUnsafe(INITIAL_CAPACITY_BYTES);
  private start = 0;
  private end = 0;
  /** Bytes past `start` already searched for LF without finding one. */
  private scanned = 0;
  /** The request array being read: its expected count and the bulks read so far. */
  private partial: { count: number; args: Buffer[]; bytes: number } | null = null;
  /** Length of the bulk whose payload is awaited, or -1 when its length line is next. */
  private bulkLength = -1;
  /** The protocol error, once one happened; the parser is then dead. */
  private failure: string | null = null;

  constructor(private limits: RespParserLimits) {
    assert(limits.bulkMaxBytes < limits.queryBufferMaxBytes, 'a whole bulk fits in the query buffer');
  }

  /** Bytes held: unparsed input plus the bulks of an unfinished request. */
  get bufferedBytes(): number {
    return this.end - this.start + (this.partial?.bytes ?? 0);
  }

  /** Capacity of the receive buffer (what this parser's memory is, besides finished bulks). */
  get capacityBytes(): number {
    return this.buffer.length;
  }

  /** True once a protocol error happened. */
  get failed(): boolean {
    return this.failure !== null;
  }

  /** Change the bounds for what is parsed next (a request already checked keeps its checks). */
  setLimits(limits: RespParserLimits): void {
    assert(limits.bulkMaxBytes < limits.queryBufferMaxBytes, 'a whole bulk fits in the query buffer');
    this.limits = limits;
  }

  /** Add received bytes. Over the query-buffer bound, the parser fails (and drops the bytes). */
  push(chunk: Buffer): void {
    if (this.failure !== null || chunk.length === 0) return;
    if (this.bufferedBytes + chunk.length > this.limits.queryBufferMaxBytes) {
      this.fail(`query buffer over ${this.limits.queryBufferMaxBytes} bytes; send smaller requests`);
      return;
    }
    this.reserve(chunk.length);
    chunk.copy(this.buffer, this.end);
    this.end += chunk.length;
  }

  /** The next whole request or the protocol error, or null when more bytes are needed. */
  next(): ParseResult | null {
    for (;;) {
      if (this.failure !== null) return { type: 'error', message: this.failure };
      const result = this.partial === null ? this.requestStart() : this.bulkPart();
      if (result !== 'again') {
        if (result === null) this.shrinkIfIdle();
        return result;
      }
    }
  }

  // -------------------------------------------------------------------------

  /** At the start of a request: an array header, an inline line, or nothing yet. */
  private requestStart(): ParseResult | null | 'again' {
    if (this.end === this.start) return null;
    const first = this.buffer[this.start]!;
    if (first === 0x2a /* '*' */) {
      const count = this.lengthLine('*', this.limits.arrayMaxElements, 'multibulk count');
      if (count === null) return this.failure === null ? null : 'again';
      if (count <= 0) return 'again'; // *0 and *-1 are empty requests: skipped, as Redis does.
      this.partial = { count, args: [], bytes: 0 };
      this.bulkLength = -1;
      return 'again';
    }
    if (REPLY_TYPE_BYTES.has(first)) {
      return this.fail(`expected '*' or an inline command, got '${String.fromCharCode(first)}'`), 'again';
    }
    return this.inlineLine();
  }

  /** Inside a request array: the next bulk's length line or payload. */
  private bulkPart(): ParseResult | null | 'again' {
    const partial = this.partial!;
    if (this.bulkLength < 0) {
      if (this.end === this.start) return null;
      const type = this.buffer[this.start]!;
      if (type !== 0x24 /* '$' */) {
        return this.fail(`expected '$', got '${printable(type)}'`), 'again';
      }
      const length = this.lengthLine('$', this.limits.bulkMaxBytes, 'bulk length');
      if (length === null) return this.failure === null ? null : 'again';
      if (length < 0) return this.fail('invalid bulk length'), 'again';
      if (partial.bytes + length + 2 > this.limits.queryBufferMaxBytes) {
        return this.fail(`request over the query buffer limit of ${this.limits.queryBufferMaxBytes} bytes; send smaller requests`), 'again';
      }
      this.bulkLength = length;
    }
    // Not preallocated: a client announcing a huge bulk and sending nothing costs nothing.
    if (this.end - this.start < this.bulkLength + 2) return null;
    const payloadEnd = this.start + this.bulkLength;
    if (this.buffer[payloadEnd] !== CR || this.buffer[payloadEnd + 1] !== LF) {
      return this.fail('bulk string not terminated by CRLF'), 'again';
    }
    const bulk = Buffer.from(this.buffer.subarray(this.start, payloadEnd)); // copied: the buffer is reused
    this.consume(this.bulkLength + 2);
    this.bulkLength = -1;
    partial.args.push(bulk);
    partial.bytes += bulk.length;
    if (partial.args.length < partial.count) return 'again';
    this.partial = null;
    return { type: 'command', args: partial.args, inline: false };
  }

  /**
   * Parse "<type><integer>\r\n" at `start`: null when the line is not complete
   * yet (or it failed: see `failure`), else the integer, already checked
   * against `max` (negative values are returned for the caller to judge).
   */
  private lengthLine(type: string, max: number, what: string): number | null {
    const lf = this.findLf(RESP_LENGTH_LINE_MAX_BYTES);
    if (lf === -1) return null;
    if (lf === -2) return this.fail(`${what} line longer than ${RESP_LENGTH_LINE_MAX_BYTES} bytes`), null;
    if (lf === this.start || this.buffer[lf - 1] !== CR) return this.fail(`${what} line not terminated by CRLF`), null;
    const text = this.buffer.toString('latin1', this.start + 1, lf - 1);
    if (!/^-?[0-9]{1,19}$/.test(text)) return this.fail(`invalid ${what} '${type}${sanitize(text)}'`), null;
    const value = Number(text);
    if (value > max) return this.fail(`${what} ${value} over the limit of ${max}`), null;
    if (value < -1 || (value === -1 && type === '$')) return this.fail(`invalid ${what} ${value}`), null;
    this.consume(lf + 1 - this.start);
    return value;
  }

  /** An inline command line: words split on spaces, with quotes. */
  private inlineLine(): ParseResult | null | 'again' {
    const lf = this.findLf(this.limits.inlineMaxBytes);
    if (lf === -1) return null;
    if (lf === -2) return this.fail(`inline command longer than ${this.limits.inlineMaxBytes} bytes`), 'again';
    const lineEnd = lf > this.start && this.buffer[lf - 1] === CR ? lf - 1 : lf;
    const words = splitInline(this.buffer.subarray(this.start, lineEnd));
    this.consume(lf + 1 - this.start);
    if (words === null) return this.fail('unbalanced quotes in inline command'), 'again';
    if (words.length === 0) return 'again'; // empty lines are skipped, as Redis does
    if (words.length > this.limits.arrayMaxElements) {
      return this.fail(`inline command of ${words.length} words over the limit of ${this.limits.arrayMaxElements}`), 'again';
    }
    return { type: 'command', args: words, inline: true };
  }

  /** Index of the next LF from `start`; -1 if not buffered yet, -2 if none within `maxLineBytes`. */
  private findLf(maxLineBytes: number): number {
    const from = this.start + this.scanned;
    const to = Math.min(this.end, this.start + maxLineBytes);
    const found = from < to ? this.buffer.subarray(from, to).indexOf(LF) : -1;
    if (found !== -1) return from + found;
    this.scanned = to - this.start;
    return this.end - this.start >= maxLineBytes ? -2 : -1;
  }

  private consume(bytes: number): void {
    assert(bytes >= 0 && this.start + bytes <= this.end, 'consume only what is buffered');
    this.start += bytes;
    this.scanned = 0;
    if (this.start === this.end) this.start = this.end = 0;
  }

  /**
   * Make room for `bytes` more after `end`: slide the unparsed bytes down, or
   * double the capacity until they fill at most half of it (so slides are at
   * least half a buffer apart and each byte is copied O(1) times amortized).
   */
  private reserve(bytes: number): void {
    if (this.end + bytes <= this.buffer.length) return;
    const held = this.end - this.start;
    let capacity = this.buffer.length;
    while (capacity < 2 * (held + bytes)) capacity *= 2;
    const target = capacity === this.buffer.length ? this.buffer : Buffer.allocUnsafe(capacity);
    this.buffer.copy(target, 0, this.start, this.end);
    this.buffer = target;
    this.start = 0;
    this.end = held;
  }

  /** After a large request, give the big buffer back once nothing is held. */
  private shrinkIfIdle(): void {
    if (this.start === this.end && this.buffer.length > INITIAL_CAPACITY_BYTES && this.partial === null && this.bulkLength < 0) {
      this.buffer = Buffer.allocUnsafe(INITIAL_CAPACITY_BYTES);
      this.start = this.end = 0;
    }
  }

  private fail(message: string): void {
    this.failure = message;
    this.partial = null;
    this.buffer = Buffer.alloc(0);
    this.start = this.end = this.scanned = 0;
  }
}

/**
 * Split an inline line into words (after Redis's sdssplitargs): blanks
 * separate words; "..." understands \n \r \t \b \a \\ \" and \xHH; '...'
 * understands \'. A closing quote must be followed by a blank or the end.
 * Returns null on unbalanced quotes.
 */
export function splitInline(line: Buffer): Buffer[] | null {
  const words: Buffer[] = [];
  let i = 0;
  const isBlank = (b: number | undefined): boolean => b === 0x20 || b === 0x09 || b === CR || b === LF || b === 0x0b || b === 0x0c;
  while (i < line.length) {
    while (i < line.length && isBlank(line[i])) i++;
    if (i >= line.length) break;
    const bytes: number[] = [];
    const quote = line[i] === 0x22 || line[i] === 0x27 ? line[i]! : 0;
    if (quote !== 0) i++;
    for (;;) {
      if (i >= line.length) {
        if (quote !== 0) return null;
        break;
      }
      const b = line[i]!;
      if (quote === 0) {
        if (isBlank(b)) break;
        bytes.push(b);
        i++;
      } else if (b === quote) {
        i++;
        if (i < line.length && !isBlank(line[i])) return null;
        break;
      } else if (b === 0x5c /* \ */ && i + 1 < line.length) {
        const [value, used] = unescape(line, i, quote);
        bytes.push(value);
        i += used;
      } else {
        bytes.push(b);
        i++;
      }
    }
    words.push(Buffer.from(bytes));
  }
  return words;
}

/** The byte an escape at `line[at]` (a backslash) stands for, and the bytes it spans. */
function unescape(line: Buffer, at: number, quote: number): [number, number] {
  const next = line[at + 1]!;
  if (quote === 0x27) return next === 0x27 ? [0x27, 2] : [0x5c, 1];
  const hex = line.toString('latin1', at + 2, at + 4);
  if (next === 0x78 /* x */ && /^[0-9a-fA-F]{2}$/.test(hex)) return [parseInt(hex, 16), 4];
  const simple: Record<string, number> = { n: LF, r: CR, t: 0x09, b: 0x08, a: 0x07 };
  const mapped = simple[String.fromCharCode(next)];
  return [mapped ?? next, 2];
}

function printable(byte: number): string {
  return byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : `\\x${byte.toString(16).padStart(2, '0')}`;
}

function sanitize(text: string): string {
  return [...text].map((c) => printable(c.charCodeAt(0))).join('');
}

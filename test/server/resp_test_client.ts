/**
 * A raw-socket RESP client for the server tests: sends bytes exactly as
 * given (so tests can send malformed frames) and decodes replies.
 *
 * Decoded replies: simple string -> { simple }, error -> { error }, integer ->
 * number, bulk -> Buffer, null -> null, array -> array, RESP3 map -> Map.
 */
import { connect, type Socket } from 'node:net';

/** One decoded reply. */
export type Decoded = { simple: string } | { error: string } | number | Buffer | null | Decoded[] | Map<string, Decoded>;

/** A raw connection to a server on 127.0.0.1. */
export class RawClient {
  private buffer = Buffer.alloc(0);
  private waiter: (() => void) | null = null;
  /** True once the server closed the connection. */
  ended = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.waiter?.();
    });
    socket.on('close', () => {
      this.ended = true;
      this.waiter?.();
    });
    socket.on('error', () => undefined);
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  /** Send bytes as they are. */
  send(bytes: string | Buffer): void {
    this.socket.write(bytes);
  }

  /** Send one command as an array of bulk strings. */
  command(...args: (string | Buffer)[]): void {
    this.send(encodeCommand(args));
  }

  /** Send a command and decode its one reply. */
  async call(...args: (string | Buffer)[]): Promise<Decoded> {
    this.command(...args);
    return this.reply();
  }

  /** The next reply; rejects if the server closes first or nothing comes within `timeout_ms`. */
  async reply(timeout_ms = 5000): Promise<Decoded> {
    const deadline = Date.now() + timeout_ms;
    for (;;) {
      const decoded = decode(this.buffer, 0);
      if (decoded !== null) {
        this.buffer = this.buffer.subarray(decoded.end);
        return decoded.value;
      }
      if (this.ended) throw new Error(`connection closed; unparsed: ${JSON.stringify(this.buffer.toString('latin1'))}`);
      if (Date.now() > deadline) throw new Error(`no reply within ${timeout_ms} ms`);
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
        setTimeout(resolve, 50);
      });
      this.waiter = null;
    }
  }

  /** Resolves when the server has closed the connection (rejects after `timeout_ms`). */
  async closed(timeout_ms = 5000): Promise<void> {
    const deadline = Date.now() + timeout_ms;
    while (!this.ended) {
      if (Date.now() > deadline) throw new Error('the server did not close the connection');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A command as a RESP array of bulk strings. */
export function encodeCommand(args: readonly (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = typeof arg === 'string' ? Buffer.from(arg) : arg;
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** Decode one reply at `at`, or null if incomplete. */
export function decode(buffer: Buffer, at: number): { value: Decoded; end: number } | null {
  const lf = buffer.indexOf('\r\n', at);
  if (lf < 0) return null;
  const type = String.fromCharCode(buffer[at]!);
  const line = buffer.toString('utf8', at + 1, lf);
  const next = lf + 2;
  switch (type) {
    case '+':
      return { value: { simple: line }, end: next };
    case '-':
      return { value: { error: line }, end: next };
    case ':':
      return { value: Number(line), end: next };
    case '_':
      return { value: null, end: next };
    case '$': {
      const length = Number(line);
      if (length < 0) return { value: null, end: next };
      if (buffer.length < next + length + 2) return null;
      return { value: Buffer.from(buffer.subarray(next, next + length)), end: next + length + 2 };
    }
    case '*':
    case '%': {
      const count = Number(line);
      if (count < 0) return { value: null, end: next };
      const items: Decoded[] = [];
      let end = next;
      for (let i = 0; i < (type === '%' ? count * 2 : count); i++) {
        const item = decode(buffer, end);
        if (item === null) return null;
        items.push(item.value);
        end = item.end;
      }
      if (type === '*') return { value: items, end };
      const map = new Map<string, Decoded>();
      for (let i = 0; i < items.length; i += 2) map.set(str(items[i]!), items[i + 1]!);
      return { value: map, end };
    }
    default:
      throw new Error(`unexpected reply type ${JSON.stringify(type)}`);
  }
}

/** A bulk or simple reply as text (for assertions). */
export function str(value: Decoded): string {
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (value !== null && typeof value === 'object' && 'simple' in value) return value.simple;
  throw new Error(`not a string reply: ${JSON.stringify(value)}`);
}

/** The text of an error reply (throws if the reply is not an error). */
export function errorText(value: Decoded): string {
  if (value !== null && typeof value === 'object' && 'error' in value) return value.error;
  throw new Error(`not an error reply: ${JSON.stringify(value)}`);
}

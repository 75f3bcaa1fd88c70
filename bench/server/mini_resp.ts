/**
 * The RESP of the ceiling servers (`ceiling.ts`, `ceiling_worker.ts`): just
 * enough for redis-benchmark (SET, GET, PING, CONFIG GET). A reference for
 * what Node itself costs, not ringkv code: no limits, no errors beyond
 * "unknown command", keys and values held as latin1 strings (byte-exact and
 * cheap to post to a worker).
 */

/** Bytes `\r\n` and `*` of the protocol. */
const LF = 10;
const STAR = 42;

/**
 * Append every complete command at the start of `buf` to `into` and return
 * the bytes they used (the rest is an incomplete command, to be read again
 * with the next socket read). Throws on anything but arrays of bulk strings.
 */
export function parseCommands(buf: Buffer, into: string[][]): number {
  let at = 0;
  for (;;) {
    const start = at;
    if (at >= buf.length) return start;
    if (buf[at] !== STAR) throw new Error('only RESP arrays of bulk strings are understood');
    let nl = buf.indexOf(LF, at);
    if (nl < 0) return start;
    const count = Number(buf.toString('latin1', at + 1, nl - 1));
    at = nl + 1;
    const args: string[] = [];
    for (let i = 0; i < count; i++) {
      nl = buf.indexOf(LF, at);
      if (nl < 0) return start;
      const len = Number(buf.toString('latin1', at + 1, nl - 1));
      at = nl + 1;
      if (at + len + 2 > buf.length) return start;
      args.push(buf.toString('latin1', at, at + len));
      at += len + 2;
    }
    into.push(args);
  }
}

/** Run `commands` against `store` and return all their replies as one latin1 string. */
export function execute(store: Map<string, string>, commands: string[][]): string {
  let out = '';
  for (const [name = '', a = '', b = ''] of commands) {
    switch (name.toUpperCase()) {
      case 'SET':
        store.set(a, b);
        out += '+OK\r\n';
        break;
      case 'GET': {
        const value = store.get(a);
        out += value === undefined ? '$-1\r\n' : `$${value.length}\r\n${value}\r\n`;
        break;
      }
      case 'PING':
        out += '+PONG\r\n';
        break;
      case 'CONFIG': // CONFIG GET <name>: the name with an empty value
        out += `*2\r\n$${b.length}\r\n${b}\r\n$0\r\n\r\n`;
        break;
      default:
        out += `-ERR unknown command '${name}'\r\n`;
    }
  }
  return out;
}

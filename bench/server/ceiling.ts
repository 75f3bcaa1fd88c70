/**
 * The ceiling of Node itself (issue 14), measured by `npm run bench:server`:
 * a single-thread RESP server over a Map. Every complete command of one
 * socket read is parsed and answered, and the replies go out in one write.
 * A reference, not ringkv code.
 *
 *   node dist/bench/server/ceiling.js [port]   # prints "listening on HOST:PORT"; 0 (default) picks a free port
 */
import { createServer, type AddressInfo } from 'node:net';
import { execute, parseCommands } from './mini_resp.js';

const store = new Map<string, string>();

const server = createServer({ noDelay: true }, (socket) => {
  let pending: Buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    const buf = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    const commands: string[][] = [];
    try {
      pending = buf.subarray(parseCommands(buf, commands));
    } catch {
      socket.destroy();
      return;
    }
    if (commands.length > 0) socket.write(execute(store, commands), 'latin1');
  });
  socket.on('error', () => socket.destroy());
});

server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  const { address, port } = server.address() as AddressInfo;
  console.log(`listening on ${address}:${port}`);
});
process.on('SIGTERM', () => process.exit(0));

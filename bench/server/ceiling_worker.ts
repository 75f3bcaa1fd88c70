/**
 * The ceiling of one thread hop (issue 14), measured by `npm run
 * bench:server`: `ceiling.ts` with the Map on one worker thread. The main
 * thread parses every complete command of one socket read and posts them to
 * the worker in one postMessage; the worker answers the batch with one
 * message holding all the replies, written to the socket in one write.
 * A reference, not ringkv code.
 *
 *   node dist/bench/server/ceiling_worker.js [port]   # prints "listening on HOST:PORT"
 */
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { Worker, isMainThread, parentPort } from 'node:worker_threads';
import { execute, parseCommands } from './mini_resp.js';

/** One socket read's commands, and the answer to them. */
interface Batch { conn: number; commands: string[][] }
interface Replies { conn: number; replies: string }

if (isMainThread) {
  const worker = new Worker(new URL(import.meta.url));
  const sockets = new Map<number, Socket>();
  let nextConn = 0;
  worker.on('message', ({ conn, replies }: Replies) => sockets.get(conn)?.write(replies, 'latin1'));

  const server = createServer({ noDelay: true }, (socket) => {
    const conn = nextConn++;
    sockets.set(conn, socket);
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
      if (commands.length > 0) worker.postMessage({ conn, commands } satisfies Batch);
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => sockets.delete(conn));
  });
  server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
    const { address, port } = server.address() as AddressInfo;
    console.log(`listening on ${address}:${port}`);
  });
  process.on('SIGTERM', () => process.exit(0));
} else {
  const store = new Map<string, string>();
  parentPort!.on('message', ({ conn, commands }: Batch) => parentPort!.postMessage({ conn, replies: execute(store, commands) } satisfies Replies));
}

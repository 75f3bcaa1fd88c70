/**
 * The RESP server: serves a `Cluster` to any Redis client (redis-cli,
 * redis-benchmark, ioredis, ...) over TCP, by default on 127.0.0.1 only.
 *
 * Commands, reply shapes and semantics are in `resp_commands.ts` and the
 * files it names; connection handling (pipelining, backpressure, closing) in
 * `resp_connection.ts`; bounds in `resp_limits.ts`.
 *
 * With a password, a client may send nothing but AUTH, HELLO, PING and QUIT
 * before it authenticates, and its bulks and arrays are held to the small
 * unauthenticated bounds.
 *
 * Thread contract: runs on the event loop of the thread that started it.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import type { Cluster } from '../cluster/cluster_types.js';
import { RESP_CLOSE_LINGER_MS } from '../core/limits.js';
import { defaultSink, type LogSink } from '../runtime/logger.js';
import type { RequestObserver } from './request_observer.js';
import type { ServerFacts } from './resp_command_types.js';
import { RespConnection } from './resp_connection.js';
import { resolveRespLimits, type RespLimits } from './resp_limits.js';

/** How to start a RESP server. */
export interface RespServerOptions {
  cluster: Cluster;
  /** TCP port; 0 picks a free one (see `RespServer.port`). */
  port: number;
  /** Address to bind (default '127.0.0.1': loopback only). */
  host?: string;
  /** When set, clients must AUTH (user "default") or HELLO ... AUTH with it. */
  password?: string;
  /** Receives one report per request served. */
  observer?: RequestObserver;
  /** Overrides of the default bounds. */
  limits?: Partial<RespLimits>;
  /** Where internal errors are logged with their detail (default: stderr at RINGKV_LOG's level). */
  log?: LogSink;
}

/** Memory and error counters of a running server, for tests and INFO-like tooling. */
export interface RespServerStats {
  /** Connected clients. */
  connections: number;
  /** The most bytes any live connection's parser holds now. */
  bufferedBytesMax: number;
  /** The most bytes any connection's parser ever held (high-water mark since start). */
  peakBufferedBytes: number;
  /** The most reply bytes any live connection has waiting in its socket now. */
  pendingReplyBytesMax: number;
  /** Connections closed for a protocol error. */
  protocolErrors: number;
  /** Connections refused because clientsMax were connected. */
  rejectedConnections: number;
}

/** A running RESP server. */
export interface RespServer {
  /** The port it listens on. */
  readonly port: number;
  /** Connected clients now. */
  readonly connections: number;
  /** The bounds in force. */
  readonly limits: Readonly<RespLimits>;
  /** Counters (see `RespServerStats`). */
  stats(): RespServerStats;
  /** Stop accepting, finish the requests in flight and write their replies, then close every connection. */
  close(): Promise<void>;
}

/** Start a RESP server; resolves once it listens. */
export async function startRespServer(options: RespServerOptions): Promise<RespServer> {
  const limits = resolveRespLimits(options.limits);
  const host = options.host ?? '127.0.0.1';
  const passwordDigest = options.password === undefined ? null : digest(Buffer.from(options.password, 'utf8'));
  const live = new Set<RespConnection>();
  let nextId = 1;
  let peakBufferedBytes = 0;
  let protocolErrors = 0;
  let rejectedConnections = 0;
  const server = createServer();
  const startedAt_ms = Date.now();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const facts: ServerFacts = {
    port,
    startedAt_ms,
    clientsMax: limits.clientsMax,
    idleTimeoutMs: limits.idleTimeoutMs,
    bulkMaxBytes: limits.bulkMaxBytes,
    connections: () => live.size,
    passwordSet: passwordDigest !== null,
    checkPassword: (password) => passwordDigest !== null && timingSafeEqual(digest(password), passwordDigest),
    log: options.log ?? defaultSink(),
  };

  server.on('connection', (socket: Socket) => {
    if (live.size >= limits.clientsMax) {
      rejectedConnections += 1;
      socket.on('error', () => undefined);
      socket.end('-ERR max number of clients reached\r\n');
      setTimeout(() => socket.destroy(), RESP_CLOSE_LINGER_MS).unref();
      return;
    }
    const connection = new RespConnection(socket, nextId++, {
      cluster: options.cluster,
      facts,
      limits,
      observer: options.observer,
      onClose: (closed) => {
        peakBufferedBytes = Math.max(peakBufferedBytes, closed.peakBufferedBytes);
        live.delete(closed);
      },
      onProtocolError: () => {
        protocolErrors += 1;
      },
    });
    live.add(connection);
  });
  // Errors of the listening socket after it started (rare: EMFILE on accept) must not crash the process.
  server.on('error', () => undefined);

  let closing: Promise<void> | null = null;
  return {
    port,
    get connections() {
      return live.size;
    },
    limits,
    stats() {
      let now = 0;
      let replies = 0;
      let peak = peakBufferedBytes;
      for (const connection of live) {
        now = Math.max(now, connection.bufferedBytes);
        replies = Math.max(replies, connection.pendingReplyBytes);
        peak = Math.max(peak, connection.peakBufferedBytes);
      }
      return { connections: live.size, bufferedBytesMax: now, peakBufferedBytes: peak, pendingReplyBytesMax: replies, protocolErrors, rejectedConnections };
    },
    close() {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        await Promise.all([...live].map((connection) => connection.drainAndClose()));
        await stopped;
      })();
      return closing;
    },
  };
}

function digest(bytes: Buffer): Buffer {
  return createHash('sha256').update(bytes).digest();
}

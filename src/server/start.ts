/**
 * `startServer()`: ringkv's single-host deployment in one call, what
 * `ringkv start` runs. It opens the cluster (every node a worker thread on
 * `<dataDir>/<node>/`), serves it over RESP and HTTP, and wires one
 * `ServerMetrics` to both surfaces and to the cluster's status.
 *
 * Shutdown order (`close()`): both servers stop accepting and finish the
 * requests in flight (their replies written), and only then does the
 * cluster close (memtables flushed, commit logs and LMDB closed). A write a
 * client saw acknowledged was therefore applied before the data files
 * close. Signal handling is the CLI's (`cli.ts`), not this module's.
 *
 * Security: `password` guards both surfaces (RESP AUTH; HTTP Basic or
 * Bearer on every route but /health and /ready). Protected mode
 * (`protected_mode.ts`) refuses to bind beyond loopback without a password
 * unless `protectedMode: false`; it is checked before the cluster opens.
 *
 * Thread contract: main thread only; `close()` may be called more than once
 * and every call returns the same promise.
 */
import { resolve } from 'node:path';
import type { Cluster, ClusterOptions, PeersOptions } from '../cluster/cluster_types.js';
import type { Requirement } from '../core/consistency.js';
import { openCluster } from '../cluster/cluster.js';
import { defaultSink } from '../runtime/logger.js';
import { SYNC_MODE_DEFAULT } from '../cluster/node_plan.js';
import { startHttpServer, type HttpLimits, type HttpServerHandle } from './http_server.js';
import { ServerMetrics } from './metrics.js';
import { observedCluster } from './observed_cluster.js';
import { checkProtectedMode } from './protected_mode.js';
import { startRespServer, type RespServer } from './resp_server.js';
import type { RespLimits } from './resp_limits.js';

/** Defaults of `ringkv start` (and `npm start`): they work on a fresh machine. */
export const SERVER_DEFAULTS = {
  nodes: 5,
  dataDir: './data',
  respPort: 6380,
  httpPort: 8080,
  bind: '127.0.0.1',
  n: 3,
} as const;

/** How to start a server; every field has a default in `SERVER_DEFAULTS` or the cluster's own. */
export interface ServerOptions {
  /** Nodes in the cluster (default 5), or in this process when `peers` is given. */
  nodes?: number;
  /** The ids of those nodes (default n1..nK); as many as `nodes` when both are given. */
  nodeIds?: readonly string[];
  /** Run the cluster across processes: this one hosts `nodes` and reaches the others (`ClusterOptions.peers`). */
  peers?: PeersOptions;
  /** Worker threads hosting them (default: the cores but one, at least one, at most one per node; `ClusterOptions.threads`). */
  threads?: number;
  /** Active anti-entropy: on by default (`ClusterOptions.antiEntropy`). */
  antiEntropy?: ClusterOptions['antiEntropy'];
  /** Root of the nodes' data directories, relative to the working directory (default ./data). */
  dataDir?: string;
  /** RESP port; 0 picks a free one (default 6380). */
  respPort?: number;
  /** HTTP port; 0 picks a free one (default 8080). */
  httpPort?: number;
  /** Address both servers bind (default 127.0.0.1: loopback only). */
  bind?: string;
  /** Replicas per key (default 3, or the node count when smaller). */
  n?: number;
  /** Write acknowledgements needed by default (default: a majority of n). */
  w?: Requirement;
  /** Read answers needed by default (default: a majority of n). */
  r?: Requirement;
  /**
   * The server's password, none by default: RESP clients must AUTH with it,
   * HTTP clients send it as Basic (any user) or Bearer on every route but
   * /health and /ready. Not empty.
   */
  password?: string;
  /**
   * Protected mode (default true, like Redis's): refuse to start when
   * `bind` is not a loopback address (127.0.0.0/8, ::1, localhost) and no
   * `password` is set. False allows it (with a warning): for ports guarded
   * some other way.
   */
  protectedMode?: boolean;
  /**
   * Commit-log durability (default 'batch', `SYNC_MODE_DEFAULT`): each
   * replica fsyncs a write before acknowledging it, so an acknowledged write
   * is on disk on W replicas. 'periodic' fsyncs every
   * COMMITLOG_PERIODIC_SYNC_MS (100 ms): faster, but a write is lost if
   * every replica that stored it crashes within that window.
   */
  syncMode?: 'batch' | 'periodic';
  /** Overrides of the RESP server's bounds. */
  respLimits?: Partial<RespLimits>;
  /** Overrides of the HTTP server's bounds. */
  httpLimits?: Partial<HttpLimits>;
}

/** A running server. */
export interface RingkvServer {
  /** The cluster both surfaces serve (reports request results to `metrics`). */
  readonly cluster: Cluster;
  readonly resp: RespServer;
  readonly http: HttpServerHandle;
  readonly metrics: ServerMetrics;
  /** The address both servers bind. */
  readonly bind: string;
  /** The absolute data directory. */
  readonly dataDir: string;
  /** Stop accepting on both servers, finish in-flight requests, then close the cluster. */
  close(): Promise<void>;
}

/** Open the cluster and serve it; resolves once both servers listen. */
export async function startServer(options: ServerOptions = {}): Promise<RingkvServer> {
  const nodes = options.nodeIds?.length ?? options.nodes ?? SERVER_DEFAULTS.nodes;
  const dataDir = resolve(options.dataDir ?? SERVER_DEFAULTS.dataDir);
  const bind = options.bind ?? SERVER_DEFAULTS.bind;
  checkProtectedMode({ bind, password: options.password, protectedMode: options.protectedMode ?? true }, defaultSink());
  const metrics = new ServerMetrics();
  const raw = await openCluster({
    nodes: options.nodeIds !== undefined ? options.nodeIds.map((id) => ({ id })) : nodes,
    dataDir,
    ...(options.peers !== undefined ? { peers: options.peers } : {}),
    replication: {
      // Across processes N is capped by every member, which formation counts.
      ...(options.n !== undefined || options.peers === undefined ? { n: options.n ?? Math.min(SERVER_DEFAULTS.n, nodes) } : {}),
      ...(options.w !== undefined ? { w: options.w } : {}),
      ...(options.r !== undefined ? { r: options.r } : {}),
    },
    syncMode: options.syncMode ?? SYNC_MODE_DEFAULT,
    ...(options.threads !== undefined ? { threads: options.threads } : {}),
    ...(options.antiEntropy !== undefined ? { antiEntropy: options.antiEntropy } : {}),
  });
  // Requests issued in one event-loop turn already go out as one batch per coordinator: the cluster client batches them.
  const cluster = observedCluster(raw, metrics);
  metrics.observeCluster(cluster);

  let resp: RespServer | undefined;
  let http: HttpServerHandle | undefined;
  try {
    resp = await startRespServer({
      cluster,
      port: options.respPort ?? SERVER_DEFAULTS.respPort,
      host: bind,
      observer: metrics,
      ...(options.password !== undefined ? { password: options.password } : {}),
      ...(options.respLimits ? { limits: options.respLimits } : {}),
    });
    http = await startHttpServer({
      cluster,
      port: options.httpPort ?? SERVER_DEFAULTS.httpPort,
      host: bind,
      metrics,
      ...(options.password !== undefined ? { password: options.password } : {}),
      ...(options.httpLimits ? { limits: options.httpLimits } : {}),
    });
  } catch (err) {
    // A port in use (say): release what did start, so the process can exit and the data directory is closed cleanly.
    await Promise.allSettled([resp?.close(), http?.close()]);
    await cluster.close();
    throw err;
  }
  const started = { resp, http };

  let closing: Promise<void> | null = null;
  return {
    cluster,
    resp: started.resp,
    http: started.http,
    metrics,
    bind,
    dataDir,
    close() {
      closing ??= (async () => {
        const surfaces = await Promise.allSettled([started.resp.close(), started.http.close()]);
        // The cluster closes even if a surface failed to, so memtables are flushed; that failure is reported after.
        await cluster.close();
        for (const outcome of surfaces) if (outcome.status === 'rejected') throw outcome.reason;
      })();
      return closing;
    },
  };
}

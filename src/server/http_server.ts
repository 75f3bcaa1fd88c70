/**
 * ringkv's HTTP API server (node:http): listening, limits against slow or
 * greedy clients, reporting every request to the metrics, and a graceful
 * close. What each route does lives in `http_routes.ts`; reading bodies and
 * mapping errors to status codes in `http_exchange.ts`.
 *
 * Authentication (`http_auth.ts`): with a `password`, every route but
 * /health and /ready needs it (Basic with any user, or Bearer), else 401
 * with WWW-Authenticate, checked before the route runs or reads a body.
 *
 * Limits (defaults in `core/limits.ts`, overridable per server):
 *   request line + headers  HTTP_HEADER_MAX_BYTES      → 431 (node:http)
 *   body                    HTTP_BODY_MAX_BYTES        → 413 with the limit, rest not buffered
 *                           (= VALUE_MAX_BYTES: a body is a value; a smaller bound may be set);
 *                           a client sending Expect: 100-continue is invited only when its declared
 *                           body fits and it carries the password, else answered 413/401 before it uploads
 *   headers arrival         HTTP_HEADERS_TIMEOUT_MS    → 408 and close (node:http)
 *   whole request arrival   HTTP_REQUEST_TIMEOUT_MS    → 408 and close (node:http)
 *   idle keep-alive         HTTP_KEEP_ALIVE_TIMEOUT_MS → close (node:http advertises it and
 *                                                        closes about 1 s later, so clients go first)
 *   open connections        HTTP_CONNECTIONS_MAX       → new ones dropped
 *   probe status sample     PROBE_STATUS_CACHE_MS      → /health and /ready reuse one status
 *   probe status wait       PROBE_STATUS_TIMEOUT_MS    → 503
 *
 * Close: stop accepting, close idle keep-alive connections, let in-flight
 * requests finish (their responses carry `Connection: close`), and after
 * HTTP_CLOSE_GRACE_MS cut whatever is still open.
 *
 * Thread contract: main thread only. `close()` may be called more than once;
 * every call returns the same promise.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Cluster } from '../cluster/cluster_types.js';
import { assert } from '../core/assert.js';
import {
  HTTP_BODY_MAX_BYTES,
  HTTP_CLOSE_GRACE_MS,
  HTTP_CONNECTIONS_CHECK_INTERVAL_MS,
  HTTP_CONNECTIONS_MAX,
  HTTP_HEADER_MAX_BYTES,
  HTTP_HEADERS_TIMEOUT_MS,
  HTTP_KEEP_ALIVE_TIMEOUT_MS,
  HTTP_REQUEST_TIMEOUT_MS,
  PROBE_STATUS_CACHE_MS,
  PROBE_STATUS_TIMEOUT_MS,
  VALUE_MAX_BYTES,
} from '../core/limits.js';
import { defaultSink, type LogSink } from '../runtime/logger.js';
import { IndeterminateError } from '../core/errors.js';
import { PasswordCheck, unauthorizedError } from './http_auth.js';
import { sendError } from './http_exchange.js';
import { probeStatusCache } from './http_probes.js';
import { resolveRoute, type Outcome, type RouteEnvironment } from './http_routes.js';
import type { ServerMetrics } from './metrics.js';

/** The HTTP server's bounds; every field defaults to its constant in `core/limits.ts`. */
export interface HttpLimits {
  /** Request line and headers, bytes (node:http `maxHeaderSize`). */
  headerMaxBytes: number;
  /** Request body, bytes: at most VALUE_MAX_BYTES (a larger body could only be refused by the cluster). */
  bodyMaxBytes: number;
  /** Time for the request line and headers to arrive, ms. */
  headersTimeoutMs: number;
  /** Time for the whole request to arrive, ms (at least `headersTimeoutMs`). */
  requestTimeoutMs: number;
  /** Idle time of a keep-alive connection between requests, ms. */
  keepAliveTimeoutMs: number;
  /** Open connections at once. */
  connectionsMax: number;
  /** Time a graceful close waits for in-flight requests, ms. */
  closeGraceMs: number;
  /** Time one cluster status sample serves /health and /ready, ms (0: every probe asks). */
  probeStatusCacheMs: number;
  /** Time a probe waits for the cluster's status before answering 503, ms. */
  probeStatusTimeoutMs: number;
}

/** How to start an HTTP server. */
export interface HttpServerOptions {
  cluster: Cluster;
  /** TCP port; 0 picks a free one (see the handle's `port`). */
  port: number;
  /** Address to bind (default 127.0.0.1: loopback only). */
  host?: string;
  /** Where requests are reported and what GET /metrics shows; without it /metrics answers 404. */
  metrics?: ServerMetrics;
  limits?: Partial<HttpLimits>;
  /** Where internal errors (500s) are logged (default: stderr at RINGKV_LOG's level). */
  log?: LogSink;
  /** Require this password on every route but /health and /ready (absent: no authentication). Not empty. */
  password?: string;
}

/** A running HTTP server. */
export interface HttpServerHandle {
  /** The port it listens on. */
  readonly port: number;
  /** Stop accepting, finish in-flight requests (up to the close grace), close. */
  close(): Promise<void>;
}

/** Default limits, from `core/limits.ts`. */
export const DEFAULT_HTTP_LIMITS: Readonly<HttpLimits> = {
  headerMaxBytes: HTTP_HEADER_MAX_BYTES,
  bodyMaxBytes: HTTP_BODY_MAX_BYTES,
  headersTimeoutMs: HTTP_HEADERS_TIMEOUT_MS,
  requestTimeoutMs: HTTP_REQUEST_TIMEOUT_MS,
  keepAliveTimeoutMs: HTTP_KEEP_ALIVE_TIMEOUT_MS,
  connectionsMax: HTTP_CONNECTIONS_MAX,
  closeGraceMs: HTTP_CLOSE_GRACE_MS,
  probeStatusCacheMs: PROBE_STATUS_CACHE_MS,
  probeStatusTimeoutMs: PROBE_STATUS_TIMEOUT_MS,
};

/** Start serving `cluster` over HTTP; resolves once listening. */
export async function startHttpServer(options: HttpServerOptions): Promise<HttpServerHandle> {
  const limits: HttpLimits = { ...DEFAULT_HTTP_LIMITS, ...options.limits };
  checkLimits(limits);
  const log = options.log ?? defaultSink();
  const env: RouteEnvironment = {
    cluster: options.cluster,
    metrics: options.metrics,
    bodyMaxBytes: limits.bodyMaxBytes,
    probeStatus: probeStatusCache(options.cluster, limits.probeStatusCacheMs, limits.probeStatusTimeoutMs),
  };
  const passwordCheck = options.password === undefined ? null : new PasswordCheck(options.password);
  /** Responses not yet finished, so a close can mark them `Connection: close`. */
  const inFlight = new Set<ServerResponse>();
  let closing: Promise<void> | null = null;

  function onRequest(req: IncomingMessage, res: ServerResponse): void {
    inFlight.add(res);
    if (closing) res.setHeader('connection', 'close');
    res.once('close', () => inFlight.delete(res));
    serveRequest(env, passwordCheck, req, res, options.metrics, log);
  }
  const server = createServer(
    {
      maxHeaderSize: limits.headerMaxBytes,
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      // node:http checks the two timeouts on this period; a timeout shorter than the period would be overshot.
      connectionsCheckingInterval: Math.max(1, Math.min(HTTP_CONNECTIONS_CHECK_INTERVAL_MS, Math.floor(limits.headersTimeoutMs / 4))),
    },
    onRequest,
  );
  // Expect: 100-continue (curl sends it for bodies over 1 KiB): the body is invited only when it will be read,
  // so a body over the limit, or sent without the password, is answered before it is uploaded.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared <= limits.bodyMaxBytes && (passwordCheck === null || passwordCheck.accepts(req))) res.writeContinue();
    onRequest(req, res);
  });
  server.maxConnections = limits.connectionsMax;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve, reject) => {
      for (const res of inFlight) if (!res.headersSent) res.setHeader('connection', 'close');
      const grace = setTimeout(() => server.closeAllConnections(), limits.closeGraceMs);
      server.close((err) => {
        clearTimeout(grace);
        if (err) reject(err);
        else resolve();
      });
      server.closeIdleConnections();
    });
    return closing;
  };
  return { port, close };
}

/**
 * Serve one request: authenticate it (`passwordCheck` null: no password),
 * route it, run the handler, answer errors, and report it to `metrics` once
 * the response is finished or abandoned.
 */
function serveRequest(
  env: RouteEnvironment,
  passwordCheck: PasswordCheck | null,
  req: IncomingMessage,
  res: ServerResponse,
  metrics: ServerMetrics | undefined,
  log: LogSink,
): void {
  const started_ms = performance.now();
  let command = 'unrouted';
  let outcome: Outcome = 'error';
  res.once('close', () => metrics?.request('http', command, (performance.now() - started_ms) / 1000, outcome));

  const run = async (): Promise<void> => {
    const url = req.url ?? '/';
    const queryAt = url.indexOf('?');
    const path = queryAt < 0 ? url : url.slice(0, queryAt);
    const query = new URLSearchParams(queryAt < 0 ? '' : url.slice(queryAt + 1));
    const authorized = passwordCheck === null || passwordCheck.accepts(req);
    let resolved: ReturnType<typeof resolveRoute>;
    try {
      resolved = resolveRoute(req.method ?? 'GET', path);
    } catch (err) {
      // Without the password a caller learns nothing, not even which paths exist.
      throw authorized ? err : unauthorizedError();
    }
    const { route, rawKey } = resolved;
    command = route.name;
    if (!authorized && route.open !== true) throw unauthorizedError();
    outcome = await route.handle(env, { req, res, query, rawKey, authorized });
  };
  run().catch((err: unknown) => {
    outcome = 'error';
    if (res.headersSent) {
      // The answer is half written: the only honest thing left is to cut the connection.
      log({ level: 'error', source: 'http', msg: 'request failed after its response started', fields: { url: req.url, error: String(err) } });
      res.destroy();
      return;
    }
    const status = sendError(res, err);
    // An indeterminate write is an outcome the client was told about, not a server fault: not logged as one.
    if (status === 500 && !(err instanceof IndeterminateError)) {
      log({ level: 'error', source: 'http', msg: 'internal error', fields: { method: req.method, url: req.url, error: err instanceof Error ? (err.stack ?? err.message) : String(err) } });
    }
  });
}

/** Limits must be positive and consistent with what node:http accepts. */
function checkLimits(limits: HttpLimits): void {
  for (const [name, value] of Object.entries(limits)) {
    const least = name === 'probeStatusCacheMs' ? 0 : 1;
    assert(Number.isSafeInteger(value) && value >= least, `HTTP limit ${name} is an integer of at least ${least}`);
  }
  assert(limits.headersTimeoutMs <= limits.requestTimeoutMs, 'the headers timeout is at most the request timeout (node:http refuses otherwise)');
  assert(limits.bodyMaxBytes <= VALUE_MAX_BYTES, 'the HTTP body limit is at most the value limit (a larger body is a value the cluster refuses)');
}

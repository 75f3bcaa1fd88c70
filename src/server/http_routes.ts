/**
 * The HTTP API's routes, each a handler from a parsed request to a response
 * through the `Cluster` interface. The server (`http_server.ts`) owns the
 * sockets, limits, authentication and metrics; this file owns what each
 * route means.
 *
 *   GET    /kv/:key      200 raw value · 300 JSON siblings · 404 absent (never an error)
 *   PUT    /kv/:key      204; body = value; ?w= &consistency= &strict=
 *   DELETE /kv/:key      204 · 404 (no context, and nothing to delete); ?w= &consistency= &strict=
 *   GET    /status       200 JSON of cluster.status()
 *   GET    /explain/:key 200 JSON of cluster.explain(key), bytes as base64
 *   POST   /repair       200 JSON of cluster.repair(): starts an anti-entropy pass on every node
 *   GET    /repair       200 JSON of cluster.repairProgress()
 *   POST   /membership   a membership change (issue 16), body {"change": {...}, "dryRun": true|false}:
 *                        200 JSON of the plan (dry run) · 202 plan, the change started (follow /transfers)
 *   GET    /transfers    200 JSON of cluster.transfers(): the change in progress and its transfers
 *   GET    /metrics      200 Prometheus text (404 when the server has no metrics)
 *   GET    /health       200 · 503 liveness (`http_probes.ts`; open without the password)
 *   GET    /ready        200 · 503 can serve at the configured W and R (idem)
 *
 * Every /kv response carries `X-Ringkv-Context` (the causal context to send
 * back with the next write: it covers exactly what the client saw) and
 * `X-Ringkv-Receipt` (the durability receipt as compact JSON).
 *
 * Writes, as RESP's (`resp_kv_commands.ts`), through the same cluster API:
 *   - with `X-Ringkv-Context` (from a GET): causal. The write supersedes
 *     exactly what that read saw; whatever it did not see stays beside it
 *     as a sibling (KV.PUT / a delete with context).
 *   - without a context, PUT is Redis's SET: an overwrite
 *     (`WriteOptions.overwrite`) superseding every version the key's
 *     coordinating owner holds, in one round trip (a concurrent write that
 *     owner has not seen yet stays as a sibling, never lost). DELETE is
 *     Redis's DEL: it reads the key (asking as many replicas as the write
 *     needs: `consistency` or `w`, else the default R) and deletes what the
 *     read found with the read's context; 404 when there was nothing.
 *
 * Thread contract: main thread only.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Cluster, MembershipChange, NodeSpec, ReadOptions, Receipt, WriteOptions, WriteResult } from '../cluster/cluster_types.js';
import { InvalidRequestError } from '../core/errors.js';
import { HttpError, readBody, refuseTooLarge, sendJson } from './http_exchange.js';
import { healthRoute, readyRoute } from './http_probes.js';
import { CONTEXT_HEADER, decodeKeySegment, readOptionsFrom, writeOptionsFrom } from './http_request_parse.js';
import type { ServerMetrics } from './metrics.js';
import type { StatusCache } from './status_cache.js';

/** The response header carrying a request's durability receipt. */
export const RECEIPT_HEADER = 'x-ringkv-receipt';
/** The response header naming the single version a 200 GET returned, or the version a write made. */
export const VERSION_HEADER = 'x-ringkv-version';

/** What every handler can reach. */
export interface RouteEnvironment {
  cluster: Cluster;
  /** Absent: GET /metrics answers 404. */
  metrics: ServerMetrics | undefined;
  /** Bound on a PUT body. */
  bodyMaxBytes: number;
  /** The status sample /health and /ready decide from. */
  probeStatus: StatusCache;
}

/** One request, parsed as far as routing needs. */
export interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  query: URLSearchParams;
  /** The percent-encoded path segment after the route prefix ('' when the route has none). */
  rawKey: string;
  /** Whether the request may see everything: it carries the password, or the server has none. */
  authorized: boolean;
}

/** Whether the response reports a failure (for the request metrics); a 404 for an absent key is a result, 'ok'. */
export type Outcome = 'ok' | 'error';

/** A route: its metrics name and its handler. */
export interface Route {
  /** The command label in metrics, e.g. "kv.get". */
  name: string;
  /** Served without the password (the probes); every other route requires it when one is set. */
  open?: boolean;
  handle(env: RouteEnvironment, exchange: Exchange): Promise<Outcome>;
}

/**
 * The route for `method` on `path` (raw, still percent-encoded). Throws
 * `HttpError` 404 for an unknown path and 405 (with Allow) for a known path
 * with the wrong method. Returns the route and the raw key segment.
 */
export function resolveRoute(method: string, path: string): { route: Route; rawKey: string } {
  for (const [prefix, byMethod] of ROUTES) {
    const rawKey = matchPrefix(prefix, path);
    if (rawKey === null) continue;
    const route = byMethod[method];
    if (!route) {
      const allow = Object.keys(byMethod).join(', ');
      throw new HttpError(405, 'METHOD_NOT_ALLOWED', `${method} is not allowed on ${prefix}; use ${allow}`, { allow });
    }
    return { route, rawKey };
  }
  throw new HttpError(404, 'NOT_FOUND', `no route for ${path}; routes are /kv/:key, /explain/:key, /status, /repair, /membership, /transfers, /metrics, /health and /ready`);
}

/** The part of `path` after `prefix` ('' for an exact route), or null when it does not match. */
function matchPrefix(prefix: string, path: string): string | null {
  if (!prefix.endsWith('/')) return path === prefix ? '' : null;
  return path.startsWith(prefix) ? path.slice(prefix.length) : null;
}

const getValue: Route = {
  name: 'kv.get',
  async handle(env, { res, query, rawKey }) {
    const key = decodeKeySegment(rawKey);
    const result = await env.cluster.get(key, readOptionsFrom(query));
    const headers = kvHeaders(result.context, result.receipt);
    const [only, ...others] = result.values;
    if (only === undefined) {
      res.writeHead(404, { ...headers, 'content-length': 0 });
      res.end();
    } else if (others.length === 0) {
      res.writeHead(200, { ...headers, [VERSION_HEADER]: result.versions[0] ?? '', 'content-type': 'application/octet-stream', 'content-length': only.length });
      res.end(only);
    } else {
      const siblings = result.values.map((value, i) => ({ value, version: result.versions[i] ?? '' }));
      sendJson(res, 300, { siblings, context: result.context }, headers);
    }
    return 'ok';
  },
};

const putValue: Route = {
  name: 'kv.put',
  async handle(env, { req, res, query, rawKey }) {
    const key = decodeKeySegment(rawKey);
    const options = writeOptionsFrom(query, req.headers[CONTEXT_HEADER]);
    const body = await readBody(req, env.bodyMaxBytes);
    if (!body.ok) {
      refuseTooLarge(req, res, env.bodyMaxBytes, body.declaredOrSeenBytes);
      return 'error';
    }
    // No context: Redis's SET, an overwrite of what the key holds (see the file header).
    const result = await env.cluster.put(key, body.body, options.context === '' ? { ...options, overwrite: true } : options);
    answerWrite(res, result);
    return 'ok';
  },
};

const deleteValue: Route = {
  name: 'kv.delete',
  async handle(env, { req, res, query, rawKey }) {
    const key = decodeKeySegment(rawKey);
    const options = writeOptionsFrom(query, req.headers[CONTEXT_HEADER]);
    if (options.context !== '') {
      answerWrite(res, await env.cluster.delete(key, options));
      return 'ok';
    }
    // No context: Redis's DEL, a delete of what a read finds (see the file header).
    const current = await env.cluster.get(key, readBeforeDelete(options));
    if (current.values.length === 0) {
      res.writeHead(404, { ...kvHeaders(current.context, current.receipt), 'content-length': 0 });
      res.end();
      return 'ok';
    }
    answerWrite(res, await env.cluster.delete(key, { ...options, context: current.context }));
    return 'ok';
  },
};

/** 204 with the write's context, receipt and version. */
function answerWrite(res: ServerResponse, result: WriteResult): void {
  res.writeHead(204, { ...kvHeaders(result.context, result.receipt), [VERSION_HEADER]: result.receipt.version ?? '' });
  res.end();
}

/** The read before a context-less delete asks as many replicas as the delete needs (its level or count), else the default R. */
function readBeforeDelete(options: WriteOptions): ReadOptions {
  const required = options.consistency ?? options.w;
  return required === undefined ? {} : { r: required };
}

const status: Route = {
  name: 'status',
  async handle(env, { res, query }) {
    refuseQuery(query);
    sendJson(res, 200, await env.cluster.status());
    return 'ok';
  },
};

const explain: Route = {
  name: 'explain',
  async handle(env, { res, query, rawKey }) {
    refuseQuery(query);
    sendJson(res, 200, await env.cluster.explain(decodeKeySegment(rawKey)));
    return 'ok';
  },
};

const startRepair: Route = {
  name: 'repair',
  async handle(env, { res, query }) {
    refuseQuery(query);
    sendJson(res, 200, await env.cluster.repair());
    return 'ok';
  },
};

const repairProgress: Route = {
  name: 'repair',
  async handle(env, { res, query }) {
    refuseQuery(query);
    sendJson(res, 200, await env.cluster.repairProgress());
    return 'ok';
  },
};

const membership: Route = {
  name: 'membership',
  async handle(env, { req, res, query }) {
    refuseQuery(query);
    const body = await readBody(req, env.bodyMaxBytes);
    if (!body.ok) throw new HttpError(413, 'TOO_LARGE', `a membership request is at most ${env.bodyMaxBytes} bytes`);
    const { change, dryRun } = membershipRequest(body.body);
    if (dryRun) sendJson(res, 200, await env.cluster.planChange(change));
    else sendJson(res, 202, await env.cluster.changeMembership(change, { wait: false }));
    return 'ok';
  },
};

const transfers: Route = {
  name: 'transfers',
  async handle(env, { res, query }) {
    refuseQuery(query);
    sendJson(res, 200, await env.cluster.transfers());
    return 'ok';
  },
};

const metrics: Route = {
  name: 'metrics',
  async handle(env, { res }) {
    if (!env.metrics) throw new HttpError(404, 'NOT_FOUND', 'this server was started without metrics');
    const text = await env.metrics.text();
    res.writeHead(200, { 'content-type': env.metrics.contentType, 'content-length': Buffer.byteLength(text) });
    res.end(text);
    return 'ok';
  },
};

/** Route table: path prefix (ending in '/' when a key follows) → method → route. */
const ROUTES: ReadonlyArray<readonly [string, Readonly<Record<string, Route>>]> = [
  ['/kv/', { GET: getValue, PUT: putValue, DELETE: deleteValue }],
  ['/explain/', { GET: explain }],
  ['/status', { GET: status }],
  ['/repair', { GET: repairProgress, POST: startRepair }],
  ['/membership', { POST: membership }],
  ['/transfers', { GET: transfers }],
  ['/metrics', { GET: metrics }],
  ['/health', { GET: healthRoute, HEAD: healthRoute }],
  ['/ready', { GET: readyRoute, HEAD: readyRoute }],
];

/** The headers of every /kv response. */
function kvHeaders(context: string, receipt: Receipt): Record<string, string> {
  return { [CONTEXT_HEADER]: context, [RECEIPT_HEADER]: asciiJson(receipt) };
}

/** Compact JSON with every non-ASCII character escaped, so it is a valid header value (node:http refuses others). */
function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A POST /membership body: `{ "change": MembershipChange, "dryRun"?: boolean }`, checked; `InvalidRequestError` saying what is wrong. */
function membershipRequest(body: Buffer): { change: MembershipChange; dryRun: boolean } {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw new InvalidRequestError('a membership request is JSON: {"change": {"kind": "join", "node": {"id": "n6"}}, "dryRun": true}');
  }
  const v = (typeof value === 'object' && value !== null ? value : {}) as { change?: unknown; dryRun?: unknown };
  const c = (typeof v.change === 'object' && v.change !== null ? v.change : {}) as Record<string, unknown>;
  const spec = (node: unknown): NodeSpec => {
    const n = (typeof node === 'object' && node !== null ? node : {}) as Record<string, unknown>;
    if (typeof n['id'] !== 'string') throw new InvalidRequestError('the new node is {"id": "...", "dc"?: "...", "rack"?: "...", "weight"?: 1}');
    return { id: n['id'], ...(typeof n['dc'] === 'string' ? { dc: n['dc'] } : {}), ...(typeof n['rack'] === 'string' ? { rack: n['rack'] } : {}), ...(typeof n['weight'] === 'number' ? { weight: n['weight'] } : {}) };
  };
  let change: MembershipChange;
  switch (c['kind']) {
    case 'join':
      change = { kind: 'join', node: spec(c['node']) };
      break;
    case 'decommission':
    case 'remove':
      if (typeof c['node'] !== 'string') throw new InvalidRequestError(`a ${c['kind']} names its node: {"kind": "${c['kind']}", "node": "n3"}`);
      change = { kind: c['kind'], node: c['node'] };
      break;
    case 'replace':
      if (typeof c['dead'] !== 'string') throw new InvalidRequestError('a replace names the dead node and the new one: {"kind": "replace", "dead": "n3", "node": {"id": "n7"}}');
      change = { kind: 'replace', dead: c['dead'], node: spec(c['node']) };
      break;
    default:
      throw new InvalidRequestError(`change.kind is join, decommission, remove or replace, not ${JSON.stringify(c['kind'])}`);
  }
  if (v.dryRun !== undefined && typeof v.dryRun !== 'boolean') throw new InvalidRequestError('dryRun is true or false');
  return { change, dryRun: v.dryRun === true };
}

/** Routes without parameters refuse any, so a typo is not silently ignored. */
function refuseQuery(query: URLSearchParams): void {
  for (const name of query.keys()) throw new InvalidRequestError(`unknown query parameter ${JSON.stringify(name)}; this route takes none`);
}

/**
 * The probe routes for supervisors and load balancers, like etcd's /health:
 *
 *   GET|HEAD /health   200 {"ok":true} · 503 {"ok":false}   liveness
 *   GET|HEAD /ready    200 {"ok":true} · 503 {"ok":false}   can serve at the configured W and R
 *
 * What each verdict means is `probe_verdicts.ts`. Both routes answer
 * without the password, so Kubernetes probes and load-balancer health
 * checks need no credentials; an anonymous caller learns only ok or not
 * ok. A caller that is authorized (it sent the password, or the server has
 * none) also gets `reason`, one sentence saying why, e.g.
 * `{"ok":false,"reason":"W=quorum (2) needs 2 node(s) that can serve; 1 can; cannot serve: n2 (stopped), ..."}`.
 *
 * Both read `cluster.status()` through their own `StatusCache`: one status
 * request in flight at a time, reused for PROBE_STATUS_CACHE_MS, and one
 * that takes longer than PROBE_STATUS_TIMEOUT_MS answers 503, so a probe
 * storm never becomes a status storm and a probe never hangs on a stuck
 * cluster. Responses are not cacheable (`Cache-Control: no-store`).
 *
 * Thread contract: main thread only.
 */
import type { Cluster, ClusterStatus } from '../cluster/cluster_types.js';
import { RingkvError } from '../core/errors.js';
import { PROBE_STATUS_CACHE_MS, PROBE_STATUS_TIMEOUT_MS } from '../core/limits.js';
import { sendJson } from './http_exchange.js';
import type { Exchange, Route } from './http_routes.js';
import { healthVerdict, readinessVerdict, type ProbeVerdict } from './probe_verdicts.js';
import { StatusCache, type StatusSample } from './status_cache.js';

/** The probes' status cache for `cluster` (defaults PROBE_STATUS_CACHE_MS and PROBE_STATUS_TIMEOUT_MS). */
export function probeStatusCache(cluster: Cluster, cacheMs = PROBE_STATUS_CACHE_MS, timeoutMs = PROBE_STATUS_TIMEOUT_MS): StatusCache {
  return new StatusCache({
    fetchStatus: () => cluster.status(),
    cacheMs,
    timeoutMs,
    nowMs: () => performance.now(),
    purpose: 'cluster status for a /health or /ready probe',
  });
}

/** GET|HEAD /health: liveness. */
export const healthRoute: Route = {
  name: 'health',
  open: true,
  async handle(env, exchange) {
    return answerProbe(exchange, verdictOf(await env.probeStatus.get(), healthVerdict));
  },
};

/** GET|HEAD /ready: readiness at the configured W and R. */
export const readyRoute: Route = {
  name: 'ready',
  open: true,
  async handle(env, exchange) {
    return answerProbe(exchange, verdictOf(await env.probeStatus.get(), readinessVerdict));
  },
};

/** The verdict `decide` gives of `sample`, or a failing one when there is no status. */
function verdictOf(sample: StatusSample, decide: (status: ClusterStatus) => ProbeVerdict): ProbeVerdict {
  if (sample.ok) return decide(sample.status);
  const why = sample.error instanceof RingkvError ? sample.error.message : 'internal error (the server log has the detail)';
  return { ok: false, reason: `the cluster's status could not be read: ${why}` };
}

/** 200 or 503 with `{ ok }`, plus `reason` for an authorized caller. Query parameters are ignored (probes add their own). */
function answerProbe(exchange: Exchange, verdict: ProbeVerdict): 'ok' {
  const body = exchange.authorized ? { ok: verdict.ok, reason: verdict.reason } : { ok: verdict.ok };
  sendJson(exchange.res, verdict.ok ? 200 : 503, body, { 'cache-control': 'no-store' });
  // A 503 is the probe's answer, not a failure of the request: counted 'ok' in the request metrics.
  return 'ok';
}

/**
 * What the /health and /ready probes answer, decided from one
 * `cluster.status()` (the probes' HTTP side is `http_probes.ts`).
 *
 * Health (liveness, like etcd's /health and a Kubernetes liveness probe):
 * the process answers and every node thread it runs answers. A running node
 * whose thread did not answer the status request (its failure detector gave
 * no liveness view) makes the process unhealthy; a node stopped on purpose
 * (`crash`) does not, but a process with no node running at all is
 * unhealthy. Health says nothing about whether requests can be served.
 *
 * Readiness (a load balancer's or Kubernetes readiness probe): the cluster
 * can serve reads and writes at its configured R and W. A node can serve
 * when it is running, its thread answered, its storage has not failed
 * (`MemberStatus.storage.state` 'failed': coordinators treat it as down), and
 * a majority of the peers that report on it do not see it down or left
 * (each peer's "down" already needs two observers: `core/liveness.ts`).
 * Then, for W and for R, each need of the requirement (resolved as the
 * coordinators resolve it; `local_quorum` from every data center that holds
 * replicas) must be met:
 *   - sloppy quorum (default): fallback nodes stand in for owners, so it is
 *     enough that `needed` nodes in the need's scope can serve;
 *   - strict quorum: only owners count, so ready means every key can be
 *     served even if the nodes that cannot serve are all among its owners:
 *     at most `replicas - needed` of them in the scope.
 * Readiness is about configured defaults; a request asking for more
 * (`?w=all`) may still fail while the server is ready.
 *
 * Pure: no I/O, no clock.
 */
import type { ClusterStatus, MemberStatus } from '../cluster/cluster_types.js';
import { describeRequirement, resolveRequirement, type Need, type Requirement } from '../core/consistency.js';
import { InvalidRequestError } from '../core/errors.js';
import { PROBE_REASON_NODES_MAX } from '../core/limits.js';

/** A probe's answer: whether it passes, and why in one sentence (for operators, not for anonymous callers). */
export interface ProbeVerdict {
  ok: boolean;
  reason: string;
}

/** The liveness verdict of `status` (see the file header). */
export function healthVerdict(status: ClusterStatus): ProbeVerdict {
  const running = status.members.filter((member) => member.running);
  if (running.length === 0) return { ok: false, reason: 'no node is running' };
  const silent = running.filter((member) => !answered(member)).map((member) => member.id);
  if (silent.length > 0) {
    return { ok: false, reason: `the thread of ${listNodes(silent)} is running but does not answer` };
  }
  const stopped = status.members.length - running.length;
  return { ok: true, reason: `${running.length} node thread(s) answer${stopped > 0 ? `; ${stopped} node(s) stopped` : ''}` };
}

/** The readiness verdict of `status` at its configured W and R (see the file header). */
export function readinessVerdict(status: ClusterStatus): ProbeVerdict {
  const unable = new Map<string, string>();
  for (const member of status.members) {
    const why = whyCannotServe(member);
    if (why !== null) unable.set(member.id, why);
  }
  const { w, r, strict } = status.replication;
  const problems = [...requirementProblems('W', w, status, unable), ...requirementProblems('R', r, status, unable)];
  const able = status.members.length - unable.size;
  const down = unable.size === 0 ? '' : `; cannot serve: ${listReasons(unable)}`;
  if (problems.length > 0) return { ok: false, reason: `${problems.join('; ')}${down}` };
  const quorum = strict ? 'strict quorum' : 'sloppy quorum';
  return { ok: true, reason: `W=${describe(w, status)} and R=${describe(r, status)} can be met (${quorum}): ${able} of ${status.members.length} nodes can serve${down}` };
}

/** Why `member` cannot serve, or null when it can. */
export function whyCannotServe(member: MemberStatus): string | null {
  if (!member.running) return 'stopped';
  if (!answered(member)) return 'its thread does not answer';
  if (member.storage?.state === 'failed') return `its storage failed: ${member.storage.cause}`;
  const observers = Object.entries(member.seenBy).filter(([observer]) => observer !== member.id);
  const downVotes = observers.filter(([, seen]) => seen === 'down' || seen === 'left').length;
  if (observers.length > 0 && downVotes * 2 > observers.length) return `seen down by ${downVotes} of ${observers.length} peers`;
  return null;
}

/** A running member's thread answered when its own failure detector gave its liveness view (the cluster then lists it as seeing itself). */
function answered(member: MemberStatus): boolean {
  return member.seenBy[member.id] !== undefined;
}

/** What keeps `required` (W or R, named `letter`) from being met; [] when it can be. */
function requirementProblems(letter: 'W' | 'R', required: Requirement, status: ClusterStatus, unable: ReadonlyMap<string, string>): string[] {
  let needs: Need[];
  try {
    needs = needsOf(required, status);
  } catch (err) {
    if (err instanceof InvalidRequestError) return [`${letter}=${String(required)} cannot be met by this cluster: ${err.message}`];
    throw err;
  }
  const problems: string[] = [];
  for (const need of needs) {
    const scope = status.members.filter((member) => need.dc === null || member.dc === need.dc);
    const cannot = scope.filter((member) => unable.has(member.id)).length;
    const can = scope.length - cannot;
    const where = need.dc === null ? '' : ` in ${need.dc}`;
    if (can < need.needed) {
      problems.push(`${letter}=${describe(required, status)} needs ${need.needed} node(s)${where} that can serve; ${can} can`);
    } else if (status.replication.strict && cannot > need.replicas - need.needed) {
      problems.push(
        `${letter}=${describe(required, status)} under strict quorum: ${cannot} node(s)${where} cannot serve, so a key whose ${need.replicas} owners${where} include them has fewer than ${need.needed}`,
      );
    }
  }
  return problems;
}

/**
 * Every need of `required`: resolved once per data center holding replicas
 * as the coordinator's (only `local_quorum` differs between them), with
 * duplicates dropped.
 */
function needsOf(required: Requirement, status: ClusterStatus): Need[] {
  const replicasPerDc = new Map(Object.entries(status.replication.dcs).filter(([, count]) => count > 0));
  const seen = new Set<string>();
  const needs: Need[] = [];
  for (const dc of replicasPerDc.keys()) {
    for (const need of resolveRequirement(required, replicasPerDc, dc)) {
      const id = `${need.dc ?? ''}/${need.needed}/${need.replicas}`;
      if (seen.has(id)) continue;
      seen.add(id);
      needs.push(need);
    }
  }
  return needs;
}

/** "quorum (2)", "3", "local_quorum (2 in dc1, ...)": the requirement as messages show it. */
function describe(required: Requirement, status: ClusterStatus): string {
  try {
    return describeRequirement(required, needsOf(required, status));
  } catch {
    // An unresolvable requirement is reported by requirementProblems; here its plain text is enough.
    return String(required);
  }
}

/** Up to PROBE_REASON_NODES_MAX node ids, then how many more. */
function listNodes(ids: readonly string[]): string {
  const shown = ids.slice(0, PROBE_REASON_NODES_MAX).join(', ');
  return ids.length > PROBE_REASON_NODES_MAX ? `${shown} and ${ids.length - PROBE_REASON_NODES_MAX} more` : shown;
}

/** "n2 (stopped), n3 (its thread does not answer)", bounded like `listNodes`. */
function listReasons(unable: ReadonlyMap<string, string>): string {
  const entries = [...unable.entries()];
  const shown = entries.slice(0, PROBE_REASON_NODES_MAX).map(([id, why]) => `${id} (${why})`).join(', ');
  return entries.length > PROBE_REASON_NODES_MAX ? `${shown} and ${entries.length - PROBE_REASON_NODES_MAX} more` : shown;
}

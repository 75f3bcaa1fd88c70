/**
 * Read repair (Dynamo 2007 §4.7), the coordinator's last step of a read:
 * once every owner answered (or failed), the reconciled sibling set goes to
 * each owner that answered less, and to each owner whose answer skipped a
 * damaged SSTable (issue 13: it may have lost the key with the table, which
 * is being quarantined). Fire and forget: a repair that is not acknowledged
 * is retried by the next read of the key.
 *
 * Thread contract: the coordinator's.
 */
import { decodeDvv, digestText } from '../src/core/dotted_version_vector.js';
import { isStale, reconcileSets, type Version } from '../src/core/sibling_set.js';
import { formatVersion } from '../src/core/version_id.js';
import type { ActorContext } from '../src/runtime/actor.js';
import { describe } from './log_text.js';
import { replicaRef } from './member_refs.js';

/**
 * Send the repairs of one read of `key`; returns how many were sent. One
 * dot naming two values among the answers (issue 12) is logged here, once
 * per read, with every answer in: both versions stay in the set, and the
 * replicas count the conflict when the repair reaches them.
 */
export function sendReadRepairs(
  key: Uint8Array,
  answers: ReadonlyMap<string, Version[]>,
  damaged: ReadonlySet<string>,
  replicaTimeout_ms: number,
  ctx: ActorContext<never>,
): number {
  const reconciled = reconcileSets([...answers.values()], (a, b) => {
    const [dotA, dotB] = [decodeDvv(a.clock).dot, decodeDvv(b.clock).dot];
    const fields = { key: Buffer.from(key).toString('hex'), dot: formatVersion(dotA), digest_a: digestText(dotA.digest), digest_b: digestText(dotB.digest) };
    ctx.log.error('dot conflict among replica answers: one dot names two values; both kept as siblings', fields);
  });
  const targets = [...answers].filter(([, held]) => isStale(held, reconciled)).map(([node]) => node);
  if (reconciled.length > 0) targets.push(...damaged);
  for (const node of targets) {
    ctx.ask(replicaRef(node), { type: 'merge', key, versions: reconciled }, replicaTimeout_ms).catch((err: unknown) => {
      ctx.log.debug('read repair not acknowledged', { node, error: describe(err) });
    });
  }
  return targets.length;
}

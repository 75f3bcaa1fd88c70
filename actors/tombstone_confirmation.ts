/**
 * Tombstone confirmation (issue 12, after Riak's delete mode): a tombstone
 * may be purged by compaction only once every one of the key's N owners is
 * known to hold it on disk; otherwise an owner that missed the delete (down,
 * a lost hint, a crash inside the periodic sync window) would bring the old
 * value back through read repair after the others purged theirs. The
 * coordinator runs it after a delete every owner stored itself, and after a
 * read where every owner answered the same all-tombstone set. Two steps:
 * ask all N owners `hold-tombstone` (true only when the replica holds that
 * tombstone with its commit log synced past it), and only if all N say yes
 * send `confirm-tombstone`, which marks their copies purgeable.
 *
 * Thread contract: one instance per coordinator, on its thread.
 */
import { TOMBSTONE_CONFIRMS_IN_FLIGHT_MAX } from '../src/core/limits.js';
import { isPlanted } from '../src/core/planted_bugs.js';
import { isStale, reconcileSets, type Version } from '../src/core/sibling_set.js';
import type { ActorContext } from '../src/runtime/actor.js';
import { describe, describeKey } from './log_text.js';
import { replicaRef } from './member_refs.js';
import type { ReplicaMsg } from './replica.js';

/** What the round needs of its actor's context: asks to replicas and a log (any actor's context has them). */
type AskingContext = Pick<ActorContext, 'ask' | 'log'>;

/** Confirms tombstones held durably by every owner; fire and forget, bounded. */
export class TombstoneConfirmation {
  /** Confirmations in flight (bounded by TOMBSTONE_CONFIRMS_IN_FLIGHT_MAX). */
  private confirmsInFlight = 0;

  constructor(
    /** How long one owner gets to answer. */
    private readonly replicaTimeout: number,
  ) {}

  /** After a delete that all of `owners` stored themselves: confirm its tombstones to all of them. */
  afterDelete(key: Uint8Array, owners: readonly string[], siblings: readonly Version[], ctx: AskingContext): void {
    this.confirm(key, owners, owners, siblings, ctx);
  }

  /**
   * After a read: when every owner answered with exactly the reconciled set
   * and it is all tombstones (a delete that settled, e.g. once an owner that
   * missed it got it from a hint or read repair), confirm them to the owners
   * that have not marked them yet.
   */
  afterRead(key: Uint8Array, owners: readonly string[], answers: ReadonlyMap<string, Version[]>, ctx: AskingContext): void {
    if (!owners.every((owner) => answers.has(owner))) return;
    const reconciled = reconcileSets([...answers.values()]);
    if (reconciled.length === 0 || reconciled.some((v) => v.value !== null)) return;
    for (const held of answers.values()) if (held.length !== reconciled.length || isStale(held, reconciled)) return;
    const unmarked = owners.filter((owner) => answers.get(owner)!.some((v) => (v as Version).purgeable !== true));
    if (unmarked.length > 0) this.confirm(key, owners, unmarked, reconciled, ctx);
  }

  /**
   * Confirm the tombstones among `versions` to `confirmTo`, in two steps:
   * ask every one of `owners` (all N owners of `key`) whether it holds each
   * one durably (`hold-tombstone`), and only if all N say yes send
   * `confirm-tombstone`. Fire and forget, at most
   * TOMBSTONE_CONFIRMS_IN_FLIGHT_MAX confirmations at once: one that fails,
   * times out or is skipped only keeps the tombstone longer, and a later
   * read confirms it.
   */
  private confirm(
    key: Uint8Array,
    owners: readonly string[],
    confirmTo: readonly string[],
    versions: readonly Version[],
    ctx: AskingContext,
  ): void {
    const tombstones = versions.filter((v) => v.value === null);
    if (tombstones.length === 0 || confirmTo.length === 0) return;
    if (this.confirmsInFlight >= TOMBSTONE_CONFIRMS_IN_FLIGHT_MAX) {
      ctx.log.debug('tombstone confirmation skipped: too many in flight', { key: describeKey(key) });
      return;
    }
    this.confirmsInFlight++;
    void this.confirmHeldTombstones(key, owners, confirmTo, tombstones, ctx).finally(() => this.confirmsInFlight--);
  }

  /** The two steps of `confirmTombstones`, one tombstone at a time. Never rejects. */
  private async confirmHeldTombstones(
    key: Uint8Array,
    owners: readonly string[],
    confirmTo: readonly string[],
    tombstones: readonly Version[],
    ctx: AskingContext,
  ): Promise<void> {
    for (const tombstone of tombstones) {
      // Test-only planted bug 'unsynced-tombstone-confirm' (src/core/planted_bugs.ts): confirm without asking for durable copies.
      const held = isPlanted('unsynced-tombstone-confirm') || (await this.heldDurablyByAll(key, owners, tombstone.clock, ctx));
      if (!held) continue;
      const confirm: ReplicaMsg = { type: 'confirm-tombstone', key, clock: tombstone.clock };
      await Promise.all(
        confirmTo.map((owner) =>
          ctx
            .ask(replicaRef(owner), confirm, this.replicaTimeout)
            .catch((err: unknown) => ctx.log.debug('tombstone confirmation not acknowledged', { key: describeKey(key), node: owner, error: describe(err) })),
        ),
      );
    }
  }

  /**
   * True when every one of `owners` answers `hold-tombstone` true for
   * `clock` (it holds that tombstone with its commit log synced past it); a
   * failure or timeout counts as no.
   */
  private async heldDurablyByAll(key: Uint8Array, owners: readonly string[], clock: Uint8Array, ctx: AskingContext): Promise<boolean> {
    const hold: ReplicaMsg = { type: 'hold-tombstone', key, clock };
    const answers = await Promise.all(
      owners.map((owner) =>
        ctx.ask<boolean>(replicaRef(owner), hold, this.replicaTimeout).catch((err: unknown) => {
          ctx.log.debug('tombstone hold not acknowledged', { key: describeKey(key), node: owner, error: describe(err) });
          return false;
        }),
      ),
    );
    return answers.every((answer) => answer === true);
  }
}

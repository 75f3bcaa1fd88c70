/**
 * Minting on the replica (issue 12): a client write is versioned on a
 * replica that stores the key, under that key's chain, with the dot's
 * counter taken from the data directory's durable lease
 * (`storage/dot_lease.ts`), so one dot names one value whatever the node
 * forgot. Also the "visibility follows durability" wait every read of the
 * replica goes through (`durableView`).
 *
 * Thread contract: the replica actor's, which owns one `Minter`.
 */
import type { VersionVector } from '../src/core/dot.js';
import { actorId } from '../src/core/dotted_version_vector.js';
import { OverloadedError, toErrorRecord, type Outcome } from '../src/core/errors.js';
import { READ_DURABLE_WAITS_MAX } from '../src/core/limits.js';
import { isPlanted, plantedDropOfMergedVersion } from '../src/core/planted_bugs.js';
import { contextOf, mintWrite, requiredCounter, type Minted } from '../src/core/sibling_set.js';
import { contextFromString, contextToString } from '../src/core/version_id.js';
import type { ActorContext } from '../src/runtime/actor.js';
import type { SyncMode } from '../storage/commit_log.js';
import { DotLease } from '../storage/dot_lease.js';
import type { StorageEngine } from '../storage/engine.js';
import type { FileSystem } from '../storage/fs.js';
import { KeyTails } from '../storage/key_tails.js';
import type { Version } from '../storage/version.js';

/** A client write to version here: the coordinator's part of a put, minus replication. */
export type MintRequest = {
  type: 'mint';
  key: Uint8Array;
  /** The value, or null for a delete. */
  value: Uint8Array | null;
  /** The client's causal context ('' = none); ignored with `overwrite`. */
  context: string;
  /** Supersede every version this replica holds (Redis SET), read under the key's chain. */
  overwrite: boolean;
  /** The client does not want contexts back: `superseded` is left '' (building it costs per write). */
  no_context?: boolean;
  /** The member id minting (the node of this replica): the dot's actor is it under the lease's epoch. */
  node: string;
};

/** What a mint stored: the new version, the set it leaves, and the context its past is. */
export interface MintReply extends Minted {
  /** The causal context the new version supersedes (as text): the client's, or for an overwrite what this replica held. */
  superseded: string;
}

/** The replica's minting state: its dot lease and per-key mint chains. */
export class Minter {
  /** The data directory's dot lease (epoch and counters), opened at the first mint (or at open after a corrupt log tail). */
  private lease: Promise<DotLease> | undefined;
  /** The lease once its open resolved (for mints done at once), else undefined. */
  private leaseOpen: DotLease | undefined;
  /** Per key, the tail of its mints: the next mint of a key starts once the previous one is stored. */
  private readonly mintChains = new KeyTails();

  constructor(
    private readonly args: { dir: string; syncMode?: SyncMode | undefined },
    /** The replica's file system. */
    private readonly fs: () => FileSystem,
  ) {}

  /** Mint `msg` after every earlier mint of its key (see `mintNow`). */
  mint(engine: StorageEngine, msg: MintRequest, ctx: ActorContext<never>): Promise<MintReply> {
    return this.mintChains.chain(msg.key, () => this.mintNow(engine, msg, ctx));
  }

  /**
   * Mint `msg` on this turn when nothing makes it wait: no earlier mint of
   * its key in flight, nothing of the key waiting for its fsync, the lease
   * open and covering the counter. Reading what the replica holds and
   * storing the new version then happen in one synchronous step, so no
   * other mint of the key can come between them, exactly what the key's
   * chain guarantees for the waiting path (the engine applies the version
   * on this turn: `putsWait` is false). Returns the reply and the
   * store's promise (durable per the sync mode), or null: take `mint`.
   */
  mintAtOnce(engine: StorageEngine, msg: MintRequest, ctx: ActorContext<never>): { reply: MintReply; stored: Promise<void> } | null {
    const lease = this.leaseOpen;
    // A put that must wait for room would apply the version later: the next mint of the key could miss it.
    if (lease === undefined || engine.putsWait || this.mintChains.tail(msg.key) !== null) return null;
    if (engine.whenDurable(msg.key) !== null && !isPlanted('visible-before-fsync')) return null;
    const local = engine.get(msg.key);
    const { actor, context, required } = mintBasis(msg, local, lease);
    if (!isPlanted('dot-reuse') && !lease.coversNow(required)) return null;
    const counter = isPlanted('dot-reuse') ? required : (lease.take(required) as number);
    return this.store(engine, msg, local, context, actor, counter, ctx, true);
  }

  /**
   * The mints of a batch, in order: each at once when it can
   * (`mintAtOnce`), else on its key's chain (a later mint of the same key
   * then chains too, behind it). Each outcome once that mint is stored.
   */
  async mintMany(engine: StorageEngine, requests: readonly MintRequest[], ctx: ActorContext<never>): Promise<Outcome<MintReply>[]> {
    const outcomes: Outcome<MintReply>[] = new Array(requests.length);
    const stores: Promise<void>[] = [];
    for (let i = 0; i < requests.length; i++) {
      const failed = (err: unknown): void => void (outcomes[i] = { error: toErrorRecord(err) });
      try {
        const now = this.mintAtOnce(engine, requests[i]!, ctx);
        if (now !== null) {
          outcomes[i] = { ok: now.reply };
          stores.push(now.stored.catch(failed));
        } else {
          stores.push(this.mint(engine, requests[i]!, ctx).then((reply) => void (outcomes[i] = { ok: reply }), failed));
        }
      } catch (err) {
        failed(err);
      }
    }
    await Promise.all(stores);
    return outcomes;
  }

  /** The lease once opened (the replica closes it after its engine), or undefined. */
  get openedLease(): Promise<DotLease> | undefined {
    return this.lease;
  }


  /**
   * Mint a client write on the replica that stores it: under the key's chain,
   * once nothing of the key waits for its fsync, read what this replica
   * holds, take the dot's counter from the lease (at least what the key's
   * clock requires, above everything this node ever handed out), store the
   * new version and wait until the store says it is durable per the sync
   * mode. One dot names one value: two mints never share a counter, whatever
   * the node forgot (a purged tombstone, a lost unsynced tail, a mint whose
   * ask timed out while the disk was slow).
   */
  private async mintNow(engine: StorageEngine, msg: MintRequest, ctx: ActorContext<never>): Promise<MintReply> {
    await durableView(engine, msg.key, this.args.dir);
    const local = engine.get(msg.key);
    const lease = await this.openLease(engine, ctx);
    const { actor, context, required } = mintBasis(msg, local, lease);
    // Test-only planted bug 'dot-reuse' (src/core/planted_bugs.ts): mint from what the key holds alone, as before issue 12.
    const counter = isPlanted('dot-reuse') ? required : await lease.take(required);
    const { reply, stored } = this.store(engine, msg, local, context, actor, counter, ctx);
    await stored;
    return reply;
  }

  /**
   * Make the new version from what the replica holds (`local`) and hand it
   * to the engine; `stored` settles when the engine calls
   * it durable. `superseded` is built only when the client wants contexts.
   */
  private store(
    engine: StorageEngine,
    msg: MintRequest,
    local: Version[],
    context: VersionVector,
    actor: string,
    counter: number,
    ctx: ActorContext<never>,
    /** True when `local` was read on this very turn, so the engine may take it as the key's versions before the write. */
    readNow = false,
  ): { reply: MintReply; stored: Promise<void> } {
    const made = mintWrite(local, context, actor, msg.value, ctx.now(), undefined, counter);
    // Test-only planted bug (src/core/planted_bugs.ts, off unless a test plants it): ack but drop some versions.
    const stored = plantedDropOfMergedVersion(made.version)
      ? Promise.resolve()
      : engine.put(msg.key, made.version, readNow ? { before: local, after: made.siblings } : undefined);
    return { reply: { ...made, superseded: msg.no_context === true ? '' : contextToString(context) }, stored };
  }

  /**
   * The dot lease, opened on the first mint (a replica that never mints, e.g. the demo's, never writes one),
   * untrusted (a new epoch) when the engine's recovery cut off a corrupt commit-log tail.
   */
  openLease(engine: StorageEngine, ctx: ActorContext<never>): Promise<DotLease> {
    if (this.lease === undefined) {
      const periodic = this.args.syncMode === 'periodic';
      const random = (): number => ctx.random();
      const untrusted = engine.recovery.corruptTail !== null;
      const opened = DotLease.open({ fs: this.fs(), dir: this.args.dir, random, periodic, untrusted, trustUnclean: isPlanted('dot-reuse') });
      this.lease = opened;
      opened.then(
        (lease) => {
          if (this.lease === opened) this.leaseOpen = lease;
          ctx.log.info('dot lease open', { epoch: lease.epoch, recovery: lease.recovery });
        },
        () => (this.lease = undefined), // the next mint retries
      );
    }
    return this.lease;
  }
}

/**
 * What a mint of `msg` builds on, from what the replica holds (`local`): the
 * dot's actor (this node under the lease's epoch), the context the new
 * version supersedes (for an overwrite, everything held) and the least
 * counter the key's clock requires of the dot.
 */
function mintBasis(msg: MintRequest, local: readonly Version[], lease: DotLease): { actor: string; context: VersionVector; required: number } {
  const actor = actorId(msg.node, lease.epoch);
  const context = msg.overwrite ? contextOf(local) : contextFromString(msg.context);
  return { actor, context, required: requiredCounter(local, context, actor) };
}

/**
 * Batch sync: wait until no write of `key` waits for its fsync, so a get or
 * a mint never sees (or builds on) a write a crash could still take back.
 */
export async function durableView(engine: StorageEngine, key: Uint8Array, dir: string): Promise<void> {
  // Test-only planted bug 'visible-before-fsync' (src/core/planted_bugs.ts): read what is not yet durable.
  if (isPlanted('visible-before-fsync')) return;
  let pending = engine.whenDurable(key);
  for (let waits = 0; pending !== null; waits++) {
    if (waits === READ_DURABLE_WAITS_MAX) {
      throw new OverloadedError(`replica at ${dir}: a key written faster than its commit-log groups reach disk (${READ_DURABLE_WAITS_MAX} waits)`);
    }
    await pending;
    pending = engine.whenDurable(key);
  }
}

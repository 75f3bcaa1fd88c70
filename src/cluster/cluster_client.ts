/**
 * The client side of the embedding API, shared by the real cluster
 * (`cluster.ts`, asks over the SAB rings) and the simulated one
 * (`simulation/sim_cluster.ts`, asks in virtual time): it checks and encodes
 * a request, routes it token-aware (to the first owner of the key the client
 * believes running, so the write is minted where a replica lives and one
 * replica write is local), gives it a request id (so a duplicate is not done
 * twice), and maps member ids back to the user's node ids in the answer.
 *
 * A node whose storage failed does not coordinate (issue 13): every answer's
 * receipt lists the members whose storage the coordinator knows failed, and
 * routing skips them while the latest answer lists them. A request that
 * reaches one anyway is still served: its coordinator forwards writes to the
 * next owner and reads from the others.
 */
import type { Bytes, GetManyEntry, GetManyOutcome, PutManyEntry, PutManyOutcome, ReadOptions, ReadResult, Receipt, WriteOptions, WriteResult } from './cluster_types.js';
import { labelOf, type ResolvedCluster } from './cluster_config.js';
import { assert } from '../core/assert.js';
import { fromErrorRecord, IndeterminateError, InvalidRequestError, RingkvError, TimeoutError, UnavailableError, type Outcome } from '../core/errors.js';
import { GET_BATCH_MAX, KEY_MAX_BYTES, PUT_BATCH_MAX, PUT_BATCH_MAX_BYTES, VALUE_MAX_BYTES } from '../core/limits.js';
import { placeReplicas } from '../core/placement.js';
import { Ring } from '../core/ring.js';
import type { ActorRef, Message } from '../runtime/actor.js';
import type { BatchOutcome, CoordinatorReceipt, GetReply, GetRequest, PutReply, PutRequest } from '../../actors/coordinator.js';
import { coordinatorRef } from '../../actors/member_refs.js';

/** How the client reaches actors: `ask` of the ActorSystem or the SimWorld. */
export type Asker = <R>(to: ActorRef, msg: Message, timeout_ms: number) => Promise<R>;

/** A request waiting to be sent, and where its outcome goes (`putMany`'s and `getMany`'s outcome shape). */
interface Queued<Request, Result> {
  request: Request;
  done(outcome: { ok: true; result: Result } | { ok: false; error: Error }): void;
}

/** Margin on top of the coordinators' own deadline, so their TimeoutError reaches the client first. */
const CLIENT_TIMEOUT_MARGIN_MS = 1000;

const utf8 = new TextEncoder();

/** A key or value as bytes. */
export function toBytes(input: Bytes, what: 'key' | 'value'): Uint8Array {
  const bytes = typeof input === 'string' ? utf8.encode(input) : input;
  if (!(bytes instanceof Uint8Array)) throw new InvalidRequestError(`a ${what} is a string or bytes`);
  const max = what === 'key' ? KEY_MAX_BYTES : VALUE_MAX_BYTES;
  if (what === 'key' && bytes.length === 0) throw new InvalidRequestError('a key is not empty');
  if (bytes.length > max) throw new InvalidRequestError(`a ${what} of ${bytes.length} bytes is over the ${max}-byte limit`);
  return bytes;
}

/** Requests to a cluster, routed and labelled. */
export class ClusterClient {
  private ring: Ring;
  private nextRequest = 1;
  /** Members whose storage failed, as the latest answer's coordinator knew (no clock: replaced by each answer). */
  private storageFailed: ReadonlySet<string> = new Set();
  /** Writes and reads issued in this turn, sent together at its end (`defer`). */
  private queuedWrites: Queued<PutRequest, WriteResult>[] = [];
  private queuedReads: Queued<GetRequest, ReadResult>[] = [];
  private flushScheduled = false;

  constructor(
    private cluster: ResolvedCluster,
    private readonly ask: Asker,
    /** True while the node with this member id runs (not crashed through the API). */
    private readonly isRunning: (member: string) => boolean,
    /** Prefix of request ids: unique per client in the process. */
    private readonly idPrefix: string,
    private readonly requestTimeoutMs: number,
    /**
     * Run `fn` at the end of this turn, once the requests issued in it are
     * queued: `setImmediate` on threads; a microtask in the simulator (whose
     * world must not depend on the host's event loop).
     */
    private readonly defer: (fn: () => void) => void = (fn) => void setImmediate(fn),
  ) {
    this.ring = Ring.fromTokens(cluster.ring);
  }

  /** Route by `cluster` from now on: a membership change committed (issue 16). */
  reconfigure(cluster: ResolvedCluster): void {
    this.cluster = cluster;
    this.ring = Ring.fromTokens(cluster.ring);
  }

  /**
   * One write. Its error is honest about its fate: an `IndeterminateError`
   * when it may have been applied (no answer in time, the coordinator failed
   * mid-write); any other error means it was not. Writes issued in one turn
   * (`defer`) travel together, as `putMany`'s do; each keeps its own outcome.
   */
  async put(key: Bytes, value: Bytes | null, options: WriteOptions = {}): Promise<WriteResult> {
    const request = this.putRequest(key, value, options);
    return new Promise<WriteResult>((resolve, reject) => {
      this.queuedWrites.push({ request, done: (outcome) => (outcome.ok ? resolve(outcome.result) : reject(outcome.error)) });
      this.scheduleFlush();
    });
  }

  /**
   * Many writes: grouped by the coordinator each routes to, sent as one
   * `put-batch` per coordinator and PUT_BATCH_MAX writes (or PUT_BATCH_MAX_BYTES
   * of keys and values). Every write gets
   * its own outcome: the coordinator answers each with its own result or
   * error. A batch that gets no answer in time (or whose coordinator failed
   * mid-batch) reports each of its writes as `IndeterminateError`, since any
   * of them may have been stored; a batch its coordinator never handled
   * (`UnavailableError`) fails each write, since none was. An entry that is
   * invalid (key or value) fails alone.
   */
  async putMany(entries: readonly PutManyEntry[]): Promise<PutManyOutcome[]> {
    const outcomes: PutManyOutcome[] = new Array(entries.length);
    const items: Queued<PutRequest, WriteResult>[] = [];
    entries.forEach((entry, i) => {
      try {
        items.push({ request: this.putRequest(entry.key, entry.value, entry.options ?? {}), done: (outcome) => (outcomes[i] = outcome) });
      } catch (err) {
        outcomes[i] = { ok: false, error: err instanceof Error ? err : new Error(String(err)) };
      }
    });
    await this.sendWrites(items);
    return outcomes;
  }

  /** Send `items` as put-batches, one group per coordinator; each item's `done` gets its outcome. */
  private async sendWrites(items: readonly Queued<PutRequest, WriteResult>[]): Promise<void> {
    const batches = this.byCoordinator(items, PUT_BATCH_MAX, (request) => request.key.length + (request.value?.length ?? 0), PUT_BATCH_MAX_BYTES);
    await Promise.all(
      batches.map(async ({ to, items: batch }) => {
        const requests = batch.map((item) => item.request);
        let replies: BatchOutcome[];
        try {
          replies = await this.ask<BatchOutcome[]>(to, { type: 'put-batch', requests }, this.askTimeoutMs());
        } catch (err) {
          for (const item of batch) item.done({ ok: false, error: writeError(err, writeName(item.request, this.nodeOf(to)), batch.length) });
          return;
        }
        assert(replies.length === batch.length, 'a put-batch answers every write, in order');
        replies.forEach((reply, j) => {
          const item = batch[j]!;
          item.done('ok' in reply ? { ok: true, result: this.written(reply.ok) } : { ok: false, error: writeError(fromErrorRecord(reply.error), writeName(item.request, this.nodeOf(to))) });
        });
      }),
    );
  }

  /**
   * `items` in batches per coordinator (each routed to by its key), at most
   * `max` items and `maxBytes` of `bytesOf` each (0: no byte bound; an item
   * larger than the bound goes alone). An item that cannot be routed fails
   * at once through its `done`.
   */
  private byCoordinator<Request extends { key: Uint8Array }, Result>(
    items: readonly Queued<Request, Result>[],
    max: number,
    bytesOf: (request: Request) => number,
    maxBytes: number,
  ): { to: ActorRef; items: Queued<Request, Result>[] }[] {
    const batches: { to: ActorRef; items: Queued<Request, Result>[]; bytes: number }[] = [];
    // By thread: every coordinator's actor id is the same ('coordinator'), so the id alone would put every request in one batch.
    const open = new Map<number, { to: ActorRef; items: Queued<Request, Result>[]; bytes: number }>();
    for (const item of items) {
      let to: ActorRef;
      try {
        to = this.route(item.request.key);
      } catch (err) {
        item.done({ ok: false, error: err as Error });
        continue;
      }
      const bytes = bytesOf(item.request);
      let last = open.get(to.thread);
      if (last === undefined || last.items.length >= max || (maxBytes > 0 && last.bytes > 0 && last.bytes + bytes > maxBytes)) {
        last = { to, items: [], bytes: 0 };
        open.set(to.thread, last);
        batches.push(last);
      }
      last.items.push(item);
      last.bytes += bytes;
    }
    return batches;
  }

  /** Send the writes and reads queued in this turn, at its end. */
  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    this.defer(() => {
      this.flushScheduled = false;
      const writes = this.queuedWrites;
      const reads = this.queuedReads;
      this.queuedWrites = [];
      this.queuedReads = [];
      if (writes.length > 0) void this.sendWrites(writes);
      if (reads.length > 0) void this.sendReads(reads);
    });
  }

  /** Check and encode one write. */
  private putRequest(key: Bytes, value: Bytes | null, options: WriteOptions): PutRequest {
    return {
      type: 'put',
      request_id: this.requestId(),
      key: toBytes(key, 'key'),
      value: value === null ? null : toBytes(value, 'value'),
      context: options.context ?? '',
      ...(options.w !== undefined || options.consistency !== undefined ? { w: options.consistency ?? options.w } : {}),
      ...(options.strict !== undefined ? { strict: options.strict } : {}),
      ...(options.overwrite ? { overwrite: true } : {}),
      ...(options.returnContext === false ? { no_context: true } : {}),
    };
  }

  private written(reply: PutReply): WriteResult {
    this.learn(reply.receipt);
    return { context: reply.context, superseded: reply.superseded, receipt: this.label(reply.receipt) };
  }

  /** The node label of a coordinator ref, for messages. */
  private nodeOf(to: ActorRef): string {
    return this.cluster.nodes.find((n) => n.thread === to.thread)?.label ?? `thread ${to.thread}`;
  }

  /** The client's wait for a coordinator: its own deadline plus a margin, so its typed answer arrives first. */
  private askTimeoutMs(): number {
    return this.requestTimeoutMs + CLIENT_TIMEOUT_MARGIN_MS;
  }

  /** One read; reads issued in one turn travel together, as `getMany`'s do. */
  async get(key: Bytes, options: ReadOptions = {}): Promise<ReadResult> {
    const request = this.getRequest(key, options);
    return new Promise<ReadResult>((resolve, reject) => {
      this.queuedReads.push({ request, done: (outcome) => (outcome.ok ? resolve(outcome.result) : reject(outcome.error)) });
      this.scheduleFlush();
    });
  }

  /**
   * Many reads: grouped by the coordinator each routes to, sent as one
   * `get-batch` per coordinator and GET_BATCH_MAX reads. Every read gets its
   * own outcome; a batch that gets no answer fails each of its reads with
   * the read's error (a read changes nothing, so none is indeterminate). An
   * invalid key fails alone.
   */
  async getMany(entries: readonly GetManyEntry[]): Promise<GetManyOutcome[]> {
    const outcomes: GetManyOutcome[] = new Array(entries.length);
    const items: Queued<GetRequest, ReadResult>[] = [];
    entries.forEach((entry, i) => {
      try {
        items.push({ request: this.getRequest(entry.key, entry.options ?? {}), done: (outcome) => (outcomes[i] = outcome) });
      } catch (err) {
        outcomes[i] = { ok: false, error: err instanceof Error ? err : new Error(String(err)) };
      }
    });
    await this.sendReads(items);
    return outcomes;
  }

  /** Send `items` as get-batches, one group per coordinator; each item's `done` gets its outcome. */
  private async sendReads(items: readonly Queued<GetRequest, ReadResult>[]): Promise<void> {
    const batches = this.byCoordinator(items, GET_BATCH_MAX, () => 0, 0);
    await Promise.all(
      batches.map(async ({ to, items: batch }) => {
        const what = (request: GetRequest): string => `read of key ${keyText(request.key)} (coordinator ${this.nodeOf(to)})`;
        let replies: Outcome<GetReply>[];
        try {
          replies = await this.ask<Outcome<GetReply>[]>(to, { type: 'get-batch', requests: batch.map((item) => item.request) }, this.askTimeoutMs());
        } catch (err) {
          for (const item of batch) item.done({ ok: false, error: readError(err, what(item.request)) });
          return;
        }
        assert(replies.length === batch.length, 'a get-batch answers every read, in order');
        replies.forEach((reply, j) => {
          const item = batch[j]!;
          item.done('ok' in reply ? { ok: true, result: this.read(reply.ok) } : { ok: false, error: readError(fromErrorRecord(reply.error), what(item.request)) });
        });
      }),
    );
  }

  /** Check and encode one read. */
  private getRequest(key: Bytes, options: ReadOptions): GetRequest {
    return {
      type: 'get',
      request_id: this.requestId(),
      key: toBytes(key, 'key'),
      ...(options.r !== undefined || options.consistency !== undefined ? { r: options.consistency ?? options.r } : {}),
      ...(options.returnContext === false ? { no_context: true } : {}),
    };
  }

  private read(reply: GetReply): ReadResult {
    this.learn(reply.receipt);
    return {
      values: reply.values.map((v) => Buffer.from(v.buffer, v.byteOffset, v.byteLength)),
      versions: reply.versions,
      timestamps: reply.timestamps,
      context: reply.context,
      receipt: this.label(reply.receipt),
    };
  }

  /**
   * The coordinator to send a request for `key` to: its first running owner
   * whose storage works, else any running node whose storage works, else any running node.
   */
  route(key: Uint8Array): ActorRef {
    const owners = placeReplicas(this.ring, key, this.cluster.replication.dcs).replicas;
    const members = this.cluster.nodes.map((n) => n.member);
    const serving = (member: string): boolean => this.isRunning(member) && !this.storageFailed.has(member);
    const member = owners.find(serving) ?? members.find(serving) ?? owners.find(this.isRunning) ?? members.find(this.isRunning);
    if (member === undefined) throw new UnavailableError(0, 1, 'every node of the cluster is stopped');
    return coordinatorRef(member);
  }

  private requestId(): string {
    return `${this.idPrefix}:${this.nextRequest++}`;
  }

  /** Take the coordinator's list of members whose storage failed (absent: none). */
  private learn(receipt: CoordinatorReceipt): void {
    const failed = receipt.storage_failed;
    if (failed === undefined ? this.storageFailed.size > 0 : failed.length !== this.storageFailed.size || failed.some((m) => !this.storageFailed.has(m))) {
      this.storageFailed = new Set(failed ?? []);
    }
  }

  private label(receipt: CoordinatorReceipt): Receipt {
    const l = (member: string): string => labelOf(this.cluster, member);
    const { storage_failed: _routing, ...rest } = receipt; // routing advice for this client, not part of the user's receipt
    return {
      ...rest,
      coordinator: l(receipt.coordinator),
      sync: receipt.sync ?? 'batch',
      acks: receipt.acks.map((a) => ({ ...a, node: l(a.node), standingInFor: a.standingInFor === null ? null : l(a.standingInFor) })),
      failures: receipt.failures.map((f) => ({ ...f, node: l(f.node) })),
    };
  }
}

/** Names a write in its error: its key and coordinator, so the user knows what to read back. */
function writeName(request: PutRequest, coordinator: string): string {
  return `${request.value === null ? 'delete' : 'write'} of key ${keyText(request.key)} (request ${request.request_id}, coordinator ${coordinator})`;
}

/** A key for a message: UTF-8 text if printable, else hex; cut at 64 characters. */
function keyText(key: Uint8Array): string {
  const text = Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('utf8');
  const shown = /^[\x20-\x7e]*$/.test(text) ? JSON.stringify(text) : `0x${Buffer.from(key).toString('hex')}`;
  return shown.length > 64 ? `${shown.slice(0, 61)}...` : shown;
}

/**
 * The honest error of a write (issue 12, Jepsen's `:info`). A write whose
 * answer did not come in time, or whose coordinator failed while handling
 * it (an error outside the taxonomy: the actor crashed mid-write), may have
 * been applied: `IndeterminateError`. Typed errors from the cluster keep
 * their class: the coordinator reports `IndeterminateError` itself once it
 * stored the version, and an `UnavailableError` or `OverloadedError` means
 * nothing was applied. `batch`: the size of the put-batch whose ask failed as a whole.
 */
export function writeError(err: unknown, what: string, batch?: number): Error {
  const shared = batch !== undefined && batch > 1 ? ` (its put-batch of ${batch} writes)` : '';
  // An indeterminate batch (its coordinator's thread died) is named per write, so each says which key to read.
  if (err instanceof IndeterminateError) return batch === undefined ? err : new IndeterminateError(what, `${err.reason || err.message}${shared}`);
  if (err instanceof TimeoutError) return new IndeterminateError(what, `no answer${shared} within ${err.timeout_ms} ms`);
  if (err instanceof RingkvError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  return new IndeterminateError(what, `the coordinator failed while handling it${shared}: ${detail}`);
}

/**
 * The typed error of a read: a read changes nothing, so it is never
 * indeterminate. A timeout stays a `TimeoutError`; a coordinator that
 * failed while handling it (or whose thread crashed) is an
 * `UnavailableError`: retry.
 */
export function readError(err: unknown, what: string): Error {
  if (err instanceof RingkvError && !(err instanceof IndeterminateError)) return err;
  const detail = err instanceof Error ? err.message : String(err);
  return new UnavailableError(0, 1, `${what}: the coordinator failed while handling it: ${detail}`, 'retry the read');
}

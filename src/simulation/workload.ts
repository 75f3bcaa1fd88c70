/**
 * The campaign's clients: what users of a Dynamo-style store do, recorded as
 * a history for the checker (`src/check`). Each client sleeps a seeded think
 * time, then does one of:
 *
 * - get (with a per-request R now and then); its context is remembered and
 *   feeds a later put of that key (read-modify-write); half of them go as a
 *   getMany of 1-2 keys (a RESP pipeline's GETs, MGET), each read recorded
 *   as its own op with its own outcome;
 * - put with that context (or none: a blind write that makes siblings);
 * - SET: a put with `overwrite` (supersedes what the minting owner holds);
 * - putMany: a batch of 2-3 writes to distinct keys, each with its own outcome;
 * - delete, with the read context or as an overwrite (Redis DEL);
 * - DEL then SET of the same key, the SET chained on the DEL's context or
 *   an overwrite;
 * - a pipelined SET then GET of one key (a Redis client sends both before
 *   either answers): the GET, at R=1, goes out while the SET is in flight,
 *   so it may see the write before the write is acknowledged, or durable;
 * - with `shortLivedKeys` (seeds whose tombstones are purged): a key of its
 *   own that it writes once and later deletes and never touches again, as
 *   sessions, carts and queue entries live. The hot keys are rewritten
 *   within a second of any delete, which hides what a tombstone purge does;
 *   a short-lived key's tombstone is the last word on it until the final
 *   read.
 *
 * Writes and reads take a per-request W or R (a count, 'one', 'quorum',
 * 'all', and in two-DC clusters 'local_quorum' and 'each_quorum') or the
 * cluster default. The last client is strict: strict quorums with one
 * W/R pair for its whole run such that W+R>N, so its ops are checked for
 * read-your-writes. Every put writes a value no other put writes (the
 * checker names writers by value).
 *
 * Outcomes: ok; 'unknown' for TimeoutError and IndeterminateError (the
 * write may still land); 'failed' for any other refusal of the cluster.
 * An ok write records the nodes that stored it (`stored_on`, from the
 * receipt's acks, "label>owner" for a fallback) and, when the cluster
 * reports it, the context it actually superseded (`superseded`).
 *
 * Deterministic: every choice comes from the client's `Prng`; times are the
 * world's. Thread contract: single-threaded (one world).
 */
import type { HistoryOp, HistoryRecorder } from '../check/history.js';
import type { GetManyEntry, PutManyEntry, Receipt, WriteOptions, WriteResult } from '../cluster/cluster_types.js';
import type { Requirement } from '../core/consistency.js';
import { IndeterminateError, InvalidRequestError, RingkvError, TimeoutError } from '../core/errors.js';
import type { Prng } from '../core/prng.js';
import type { SimClient, SimCluster } from './sim_cluster.js';

/** Op kinds of the operation mix, in the order reports list them. */
export const OP_KINDS = ['get', 'get-many-read', 'put', 'overwrite', 'put-many-write', 'delete', 'del-then-set', 'write-then-read'] as const;
export type WorkloadOpKind = (typeof OP_KINDS)[number];

/** Counts of what the clients did: per op kind, and per request consistency ("w=all", "r=1", "w=default"...). */
export interface OpMix {
  ops: Record<WorkloadOpKind, number>;
  consistency: Record<string, number>;
}

/** An empty mix. */
export function emptyOpMix(): OpMix {
  return { ops: Object.fromEntries(OP_KINDS.map((k) => [k, 0])) as Record<WorkloadOpKind, number>, consistency: {} };
}

/** Add `from` into `into`. */
export function addOpMix(into: OpMix, from: OpMix): void {
  for (const k of OP_KINDS) into.ops[k] += from.ops[k];
  for (const [level, count] of Object.entries(from.consistency)) into.consistency[level] = (into.consistency[level] ?? 0) + count;
}

/** Keys the clients share (few, so they contend and make siblings). */
const KEYS = 6;
/** Largest think time between two ops of a client (virtual ms). */
const THINK_MAX_MS = 300;
/** Probability that a get goes as a getMany (with another key half the time). */
const GET_MANY_PROBABILITY = 0.5;
/** Writes in one putMany batch: 2..PUT_MANY_WRITES_MAX (distinct keys). */
const PUT_MANY_WRITES_MAX = 3;
/** Probability that a write carries the client's last read context of its key (when it has one). */
const CONTEXT_PROBABILITY = 0.7;
/** Probability that a non-strict request names its own W or R instead of the cluster default. */
const OWN_LEVEL_PROBABILITY = 0.4;
/** Probability that an op of a `shortLivedKeys` client is a short-lived key's write or delete (drawn before the roll below). */
const SHORT_LIVED_PROBABILITY = 0.3;
/** Short-lived keys one client holds undeleted at most (it deletes the oldest before writing another). */
const SHORT_LIVED_OPEN_MAX = 3;
/** Cumulative thresholds of the op roll. */
const ROLL = { get: 0.32, put: 0.5, overwrite: 0.64, putMany: 0.74, delete: 0.84, delThenSet: 0.92 } as const;
/** Largest gap between a pipelined write and the read of its key sent behind it (virtual ms). */
const PIPELINE_GAP_MAX_MS = 4;

/** What the workload needs of the cluster it runs on. */
export interface WorkloadSetup {
  cluster: SimCluster;
  history: HistoryRecorder;
  /** Replicas per key. */
  n: number;
  /** The cluster spans two data centers (DC levels are valid). */
  twoDcs: boolean;
  /** Clients also write keys of their own once, then delete them for good (sessions, queue entries). */
  shortLivedKeys?: boolean;
}

/**
 * 3 or 4 clients sharing `ops` operations, each with its own think times and
 * keys; the last one strict. Returns what they did.
 */
export async function runClients(setup: WorkloadSetup, prng: Prng, ops: number): Promise<OpMix> {
  const clients = 3 + prng.int(2);
  const mix = emptyOpMix();
  const loops: Promise<void>[] = [];
  for (let c = 1; c <= clients; c++) {
    const count = Math.floor(ops / clients) + (c <= ops % clients ? 1 : 0);
    const strict = c === clients;
    const client = new WorkloadClient(setup, `${strict ? 's' : 'c'}${c}`, strict, prng.fork(), mix);
    loops.push(client.run(count));
  }
  await Promise.all(loops);
  return mix;
}

/** One client of the workload. */
class WorkloadClient {
  private readonly client: SimClient;
  /** Per key, the context of this client's last read or write of it. */
  private readonly lastContext = new Map<string, string>();
  /** Strict clients: the W and R of every request (W+R>N). */
  private readonly strictLevels: { w: Requirement; r: Requirement } | undefined;
  /** Values written so far (they are `<name>-<n>`). */
  private written = 0;
  /** Short-lived keys written and not deleted yet, oldest first. */
  private readonly shortLived: string[] = [];
  /** Short-lived keys created so far (they are `<name>-s<n>`). */
  private shortLivedCreated = 0;

  constructor(
    private readonly setup: WorkloadSetup,
    private readonly name: string,
    private readonly strict: boolean,
    private readonly prng: Prng,
    private readonly mix: OpMix,
  ) {
    this.client = setup.cluster.client(name);
    this.strictLevels = strict ? this.strictPair() : undefined;
  }

  async run(count: number): Promise<void> {
    const { prng } = this;
    for (let i = 0; i < count; i++) {
      await sleep(this.setup.cluster, prng.range(0, THINK_MAX_MS));
      if (this.setup.shortLivedKeys === true && prng.chance(SHORT_LIVED_PROBABILITY)) {
        await this.shortLivedStep();
        continue;
      }
      const key = this.key();
      const roll = prng.next();
      if (roll < ROLL.get) await this.get(key);
      else if (roll < ROLL.put) await this.write('put', key, this.value(), { context: this.contextFor(key) });
      else if (roll < ROLL.overwrite) await this.write('overwrite', key, this.value(), { overwrite: true });
      else if (roll < ROLL.putMany) await this.putMany();
      else if (roll < ROLL.delete) await this.write('delete', key, null, prng.chance(0.5) ? { overwrite: true } : { context: this.contextFor(key) });
      else if (roll < ROLL.delThenSet) await this.delThenSet(key);
      else await this.writeThenRead(key);
    }
  }

  private async get(key: string): Promise<void> {
    if (this.prng.chance(GET_MANY_PROBABILITY)) return this.getMany(key);
    const { cluster, history } = this.setup;
    const r = this.level('r');
    const id = history.invoke(this.name, 'get', key, { invoked_ms: cluster.world.now(), ...this.ryw() });
    this.count('get', 'r', r);
    try {
      const read = await this.client.startGet(key, r === undefined ? {} : { r });
      history.complete(id, 'ok', { values: read.values.map((v) => v.toString()), versions: read.versions, readContext: read.context }, cluster.world.now());
      this.lastContext.set(key, read.context);
    } catch (err) {
      history.complete(id, outcomeOf(err), {}, cluster.world.now());
    }
  }

  /** `key`, and half the time another key, read in one getMany, each recorded as its own get with its own outcome. */
  private async getMany(key: string): Promise<void> {
    const { cluster, history } = this.setup;
    const keys = [key];
    if (this.prng.chance(0.5)) {
      const other = this.key();
      if (other !== key) keys.push(other);
    }
    const entries: GetManyEntry[] = [];
    const ids: number[] = [];
    for (const k of keys) {
      const r = this.level('r');
      this.count('get-many-read', 'r', r);
      ids.push(history.invoke(this.name, 'get', k, { invoked_ms: cluster.world.now(), ...this.ryw() }));
      entries.push({ key: k, options: r === undefined ? {} : { r } });
    }
    let outcomes;
    try {
      outcomes = await this.client.startGetMany(entries);
    } catch (err) {
      for (const id of ids) history.complete(id, outcomeOf(err), {}, cluster.world.now());
      return;
    }
    outcomes.forEach((outcome, i) => {
      if (!outcome.ok) return history.complete(ids[i]!, outcomeOf(outcome.error), {}, cluster.world.now());
      const read = outcome.result;
      history.complete(ids[i]!, 'ok', { values: read.values.map((v) => v.toString()), versions: read.versions, readContext: read.context }, cluster.world.now());
      this.lastContext.set(keys[i]!, read.context);
    });
  }

  /** One put or delete; returns its result when acknowledged. */
  private async write(kind: WorkloadOpKind, key: string, value: string | null, base: WriteOptions): Promise<WriteResult | undefined> {
    const { cluster, history } = this.setup;
    const options = this.writeOptions(base);
    this.count(kind, 'w', options.w);
    const id = this.invokeWrite(key, value, options);
    try {
      const result = value === null ? await this.client.startDelete(key, options) : await this.client.startPut(key, value, options);
      this.completeWrite(id, key, result);
      return result;
    } catch (err) {
      history.complete(id, outcomeOf(err), {}, cluster.world.now());
      return undefined;
    }
  }

  /** 2-3 writes to distinct keys in one putMany, each recorded as its own op with its own outcome. */
  private async putMany(): Promise<void> {
    const { cluster, history } = this.setup;
    const size = this.prng.range(2, PUT_MANY_WRITES_MAX);
    const keys: string[] = [];
    while (keys.length < size) {
      const key = this.key();
      if (!keys.includes(key)) keys.push(key);
    }
    const entries: PutManyEntry[] = [];
    const ids: number[] = [];
    for (const key of keys) {
      const value = this.prng.chance(0.15) ? null : this.value();
      const options = this.writeOptions(this.prng.chance(0.5) ? { overwrite: true } : { context: this.contextFor(key) });
      this.count('put-many-write', 'w', options.w);
      ids.push(this.invokeWrite(key, value, options));
      entries.push({ key, value, options });
    }
    let outcomes;
    try {
      outcomes = await this.client.startPutMany(entries);
    } catch (err) {
      for (const id of ids) history.complete(id, outcomeOf(err), {}, cluster.world.now());
      return;
    }
    outcomes.forEach((outcome, i) => {
      if (outcome.ok) this.completeWrite(ids[i]!, keys[i]!, outcome.result);
      else history.complete(ids[i]!, outcomeOf(outcome.error), {}, cluster.world.now());
    });
  }

  /**
   * One step of a short-lived key's life: write a new one (blind: nobody
   * wrote it before), or delete the oldest one held, with the context of its
   * write or as an overwrite. A deleted short-lived key is never touched again.
   */
  private async shortLivedStep(): Promise<void> {
    if (this.shortLived.length > 0 && (this.shortLived.length >= SHORT_LIVED_OPEN_MAX || this.prng.chance(0.5))) {
      const key = this.shortLived.shift()!;
      await this.write('delete', key, null, this.prng.chance(0.5) ? { overwrite: true } : { context: this.lastContext.get(key) ?? '' });
      return;
    }
    const key = `${this.name}-s${++this.shortLivedCreated}`;
    this.shortLived.push(key);
    await this.write('put', key, this.value(), {});
  }

  /**
   * A pipelined SET then GET (R=1) of one key: the get is sent a few ms after
   * the write, before its answer. Not read-your-writes (the get does not come
   * after the write), so not marked `ryw` even for the strict client.
   */
  private async writeThenRead(key: string): Promise<void> {
    const { cluster, history } = this.setup;
    this.mix.ops['write-then-read']++;
    const written = this.write('overwrite', key, this.value(), { overwrite: true });
    await sleep(cluster, this.prng.range(1, PIPELINE_GAP_MAX_MS));
    this.count('get', 'r', 1);
    const id = history.invoke(this.name, 'get', key, { invoked_ms: cluster.world.now() });
    try {
      const read = await this.client.startGet(key, { r: 1 });
      history.complete(id, 'ok', { values: read.values.map((v) => v.toString()), versions: read.versions, readContext: read.context }, cluster.world.now());
    } catch (err) {
      history.complete(id, outcomeOf(err), {}, cluster.world.now());
    }
    await written;
  }

  /** DEL then SET of one key: the SET chained on the DEL's context, or an overwrite. */
  private async delThenSet(key: string): Promise<void> {
    this.mix.ops['del-then-set']++;
    const deleted = await this.write('delete', key, null, this.prng.chance(0.5) ? { overwrite: true } : { context: this.contextFor(key) });
    const chained = deleted !== undefined && this.prng.chance(0.5);
    await this.write(chained ? 'put' : 'overwrite', key, this.value(), chained ? { context: deleted.context } : { overwrite: true });
  }

  private invokeWrite(key: string, value: string | null, options: WriteOptions): number {
    const { cluster, history } = this.setup;
    const overwrite = options.overwrite === true ? { overwrite: true } : {};
    const fields = { invoked_ms: cluster.world.now(), context: options.overwrite === true ? '' : (options.context ?? ''), ...(value === null ? {} : { value }), ...overwrite, ...this.ryw() };
    return history.invoke(this.name, value === null ? 'delete' : 'put', key, fields);
  }

  private completeWrite(id: number, key: string, result: WriteResult): void {
    const { cluster, history } = this.setup;
    history.complete(id, 'ok', { version: result.receipt.version! }, cluster.world.now());
    // The checker's fields for acknowledged writes (HistoryOp.stored_on / superseded / replyContext), set on
    // the recorded op so this compiles against recorders that do not take them in `complete` yet.
    const superseded = (result as WriteResult & { superseded?: string }).superseded;
    const extra: Partial<HistoryOp> & { stored_on: string[]; superseded?: string; replyContext: string } = {
      stored_on: storedOn(result.receipt),
      ...(superseded === undefined ? {} : { superseded }),
      replyContext: result.context,
    };
    Object.assign(history.ops()[id - 1]!, extra);
    this.lastContext.set(key, result.context);
  }

  /** Options of one write: the client's W (strict: its pair) and strictness on top of `base`. */
  private writeOptions(base: WriteOptions): WriteOptions {
    const w = this.level('w');
    return { ...base, ...(w === undefined ? {} : { w }), ...(this.strict ? { strict: true } : {}) };
  }

  /** The W or R of one request: the strict pair's, a drawn one, or undefined (cluster default). */
  private level(which: 'w' | 'r'): Requirement | undefined {
    if (this.strictLevels !== undefined) return this.strictLevels[which];
    if (!this.prng.chance(OWN_LEVEL_PROBABILITY)) return undefined;
    const { n, twoDcs } = this.setup;
    const levels: Requirement[] = [...Array.from({ length: n }, (_, i) => i + 1), 'one', 'quorum', 'all', ...(twoDcs ? (['local_quorum', 'each_quorum'] as const) : [])];
    return this.prng.pick(levels);
  }

  /** A W/R pair with W+R>N for the whole run of a strict client. */
  private strictPair(): { w: Requirement; r: Requirement } {
    const { n, twoDcs } = this.setup;
    const pairs: { w: Requirement; r: Requirement }[] = [
      { w: 'quorum', r: 'quorum' },
      { w: 'all', r: 1 },
      { w: 1, r: 'all' },
      { w: n, r: 'one' },
      ...(twoDcs ? [{ w: 'each_quorum' as const, r: 'each_quorum' as const }] : []),
    ];
    return this.prng.pick(pairs);
  }

  private count(kind: WorkloadOpKind, which: 'w' | 'r', level: Requirement | undefined): void {
    this.mix.ops[kind]++;
    const name = `${which}=${level ?? 'default'}`;
    this.mix.consistency[name] = (this.mix.consistency[name] ?? 0) + 1;
  }

  private contextFor(key: string): string {
    const known = this.lastContext.get(key);
    return known !== undefined && this.prng.chance(CONTEXT_PROBABILITY) ? known : '';
  }

  private key(): string {
    return `k${this.prng.int(KEYS)}`;
  }

  /** A value no other put writes. */
  private value(): string {
    return `${this.name}-${++this.written}`;
  }

  private ryw(): { ryw?: true } {
    return this.strict ? { ryw: true } : {};
  }
}

/** The nodes that acknowledged a write: labels, "label>owner" for a fallback holding a hint. */
function storedOn(receipt: Receipt): string[] {
  return receipt.acks.map((ack) => (ack.standingInFor === null ? ack.node : `${ack.node}>${ack.standingInFor}`));
}

/**
 * A request that timed out or whose write is indeterminate may still take
 * effect later: 'unknown'. One the cluster refused (unavailable, overloaded)
 * is 'failed'; the checker still lets a failed write have landed (the
 * coordinator may have stored it locally before quorum failed). Anything
 * else is a harness or programmer error and ends the seed.
 */
export function outcomeOf(err: unknown): 'failed' | 'unknown' {
  if (err instanceof TimeoutError || err instanceof IndeterminateError) return 'unknown';
  if (err instanceof RingkvError && !(err instanceof InvalidRequestError)) return 'failed';
  throw err;
}

/** A virtual-time sleep (resolves while the world runs). */
function sleep(cluster: SimCluster, ms: number): Promise<void> {
  return new Promise((resolve) => cluster.world.after(ms, 'think', resolve));
}

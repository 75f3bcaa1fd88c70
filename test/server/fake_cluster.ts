/**
 * An in-memory `Cluster` test double for the network surfaces (RESP, HTTP).
 *
 * Causality is real: versions carry dotted version vectors made with
 * `update`, sibling sets are reconciled with `syncBy`, contexts are `join`s
 * of a whole sibling set turned into text with `contextToString`, and
 * versions are named with `formatVersion`. So, as with the real cluster:
 * - a put without context beside an existing value makes a sibling;
 * - a put with the context of a read supersedes exactly what was read;
 * - a delete writes a tombstone (a sibling with no value) that supersedes
 *   what its context covers; reads skip tombstones in `values` but their
 *   context still covers them.
 *
 * Replication is pretended: every key has a preference list of `n` nodes
 * (chosen by a hash of the key), all of which hold the same sibling set. A
 * crashed node (`crash`) stops answering, so a request whose requirement
 * needs more running owners than there are fails with `UnavailableError`,
 * like the real cluster. Receipts list the running owners as acks.
 *
 * Test switches: `failWith(error)` makes every request (or the chosen ops)
 * reject with that error until `failWith(null)`; `latencyMs` delays every
 * answer; `inFlight` / `maxInFlight` / `calls` let tests see how many
 * requests a surface issued and how many at once (pipelining);
 * `nodeCounters` holds what `status` reports as each node's counters (zeros
 * at first, tests raise them; `restart` zeroes a node's, as a real thread
 * restart does). Status reports phi FAKE_PHI_ALIVE for running peers and
 * FAKE_PHI_DOWN for crashed ones, and null counters and phi for a crashed
 * node.
 *
 * Single-threaded (Node's event loop); every method is safe to call
 * concurrently in the sense of the `Cluster` contract.
 */
import type {
  ChangePlan,
  TransfersReport,
  AntiEntropyStatus,
  Bytes,
  Cluster,
  ClusterStatus,
  ExplainResult,
  GetManyEntry,
  GetManyOutcome,
  NodeCounters,
  ReadOptions,
  ReadResult,
  Receipt,
  WriteOptions,
  WriteResult,
  PutManyEntry,
  PutManyOutcome,
  RepairReport,
} from '../../src/cluster/cluster_types.js';
import { majority, type Requirement } from '../../src/core/consistency.js';
import { actorId, join, syncBy, update, type Dvv } from '../../src/core/dotted_version_vector.js';
import { InvalidRequestError, UnavailableError } from '../../src/core/errors.js';
import { KEY_MAX_BYTES, VALUE_MAX_BYTES } from '../../src/core/limits.js';
import { contextFromString, contextToString, formatVersion } from '../../src/core/version_id.js';

/** Phi a running node's detector reports of a running peer in the fake's status. */
export const FAKE_PHI_ALIVE = 0.25;

/** Phi a running node's detector reports of a crashed peer (past the default threshold of 8). */
export const FAKE_PHI_DOWN = 12;

/** Which requests `failWith` applies to. */
export type FakeOp = 'put' | 'get' | 'delete' | 'explain' | 'status';

/** How to build a fake cluster. */
export interface FakeClusterOptions {
  /** Node count (ids n1..nK), default 5. */
  nodes?: number;
  /** Replicas per key, default 3 (capped by the node count). */
  n?: number;
  /** Default write requirement, default 'quorum'. */
  w?: Requirement;
  /** Default read requirement, default 'quorum'. */
  r?: Requirement;
  /** Delay of every answer in ms (0 = answer on the next microtask). */
  latencyMs?: number;
  /** Clock for version timestamps (default Date.now). */
  now_ms?: () => number;
}

/** One stored version: its clock and its value, null for a tombstone. */
interface Version {
  clock: Dvv;
  value: Buffer | null;
  ts_ms: number;
}

/** The in-memory cluster. */
export class FakeCluster implements Cluster {
  readonly nodes: readonly string[];
  /** Replicas per key. */
  readonly n: number;
  /** Delay of every answer, ms; tests may change it at any time. */
  latencyMs: number;
  /** Requests currently being answered. */
  inFlight = 0;
  /** Most requests ever in flight at once. */
  maxInFlight = 0;
  /** Requests received, per operation. */
  readonly calls: Record<FakeOp, number> = { put: 0, get: 0, delete: 0, explain: 0, status: 0 };
  /** `putMany` calls (each of their writes is also counted in `calls`). */
  putManyCalls = 0;
  /** `getMany` calls (each of their reads is also counted in `calls`). */
  getManyCalls = 0;
  /** Per node id, the counters `status` reports for it while it runs; tests may change them. */
  readonly nodeCounters: Record<string, NodeCounters> = {};
  /** What `status` reports as each node's anti-entropy (absent: none, as with anti-entropy off). */
  readonly nodeAntiEntropy: Record<string, AntiEntropyStatus> = {};
  /** Sibling sets by key (key bytes as latin1 text, so binary keys map one to one). */
  private readonly store = new Map<string, Version[]>();
  /** Nodes crashed by `crash` and not yet restarted. */
  private readonly crashed = new Set<string>();
  /** The error every request in `failingOps` rejects with, or null. */
  private failure: Error | null = null;
  private failingOps = new Set<FakeOp>();
  private readonly defaultW: Requirement;
  private readonly defaultR: Requirement;
  private readonly now_ms: () => number;
  private closed = false;

  constructor(options: FakeClusterOptions = {}) {
    const count = options.nodes ?? 5;
    this.nodes = Array.from({ length: count }, (_, i) => `n${i + 1}`);
    this.n = Math.min(options.n ?? 3, count);
    this.defaultW = options.w ?? 'quorum';
    this.defaultR = options.r ?? 'quorum';
    this.latencyMs = options.latencyMs ?? 0;
    this.now_ms = options.now_ms ?? Date.now;
    for (const id of this.nodes) this.nodeCounters[id] = zeroCounters();
  }

  /** Make requests (all, or only `ops`) reject with `error`; `null` clears it. */
  failWith(error: Error | null, ops: readonly FakeOp[] = ['put', 'get', 'delete', 'explain', 'status']): void {
    this.failure = error;
    this.failingOps = new Set(ops);
  }

  /** Keys stored, tombstoned ones included (what a real replica would count). */
  get keyCount(): number {
    return this.store.size;
  }

  put(key: Bytes, value: Bytes, options: WriteOptions = {}): Promise<WriteResult> {
    return this.serve('put', () => this.write(key, toBuffer(value), options));
  }

  /** Each read served as a `get` would be; `getManyCalls` counts the batches. */
  async getMany(entries: readonly GetManyEntry[]): Promise<GetManyOutcome[]> {
    this.getManyCalls += 1;
    return Promise.all(
      entries.map((entry) =>
        this.get(entry.key, entry.options).then(
          (result): GetManyOutcome => ({ ok: true, result }),
          (error: unknown): GetManyOutcome => ({ ok: false, error: error as Error }),
        ),
      ),
    );
  }

  /** Each write served as a `put` or `delete` would be; `putManyCalls` counts the batches. */
  async putMany(entries: readonly PutManyEntry[]): Promise<PutManyOutcome[]> {
    this.putManyCalls += 1;
    return Promise.all(
      entries.map((entry) =>
        (entry.value === null ? this.delete(entry.key, entry.options) : this.put(entry.key, entry.value, entry.options)).then(
          (result): PutManyOutcome => ({ ok: true, result }),
          (error: unknown): PutManyOutcome => ({ ok: false, error: error as Error }),
        ),
      ),
    );
  }

  delete(key: Bytes, options: WriteOptions = {}): Promise<WriteResult> {
    return this.serve('delete', () => this.write(key, null, options));
  }

  get(key: Bytes, options: ReadOptions = {}): Promise<ReadResult> {
    return this.serve('get', () => {
      const keyBytes = checkKey(key);
      const owners = this.preferenceList(keyBytes);
      const required = options.consistency ?? options.r ?? this.defaultR;
      const answering = this.answeringOwners(owners, required);
      const versions = this.store.get(keyBytes.toString('latin1')) ?? [];
      const live = versions.filter((v) => v.value !== null);
      return {
        values: live.map((v) => Buffer.from(v.value!)),
        versions: live.map((v) => formatVersion(v.clock.dot)),
        timestamps: live.map((v) => v.ts_ms),
        context: contextToString(join(versions.map((v) => v.clock))),
        receipt: this.receipt('read', required, answering),
      };
    });
  }

  /** Repair passes started (`repair`); each completes at once: a fake has one copy of everything. */
  repairs = 0;

  repair(): Promise<RepairReport> {
    this.repairs++;
    return this.repairProgress();
  }

  repairProgress(): Promise<RepairReport> {
    const nodes: RepairReport['nodes'] = {};
    for (const id of this.nodes) nodes[id] = { pass: this.repairs, running: false, pairsTotal: 0, pairsDone: 0, pending: [], keysRepaired: 0 };
    return Promise.resolve({ running: false, pairsTotal: 0, pairsDone: 0, keysRepaired: 0, nodes });
  }

  explain(key: Bytes): Promise<ExplainResult> {
    return this.serve('explain', () => {
      const keyBytes = checkKey(key);
      const owners = this.preferenceList(keyBytes);
      const versions = this.store.get(keyBytes.toString('latin1')) ?? [];
      return {
        key: keyBytes,
        position: positionOf(keyBytes),
        preferenceList: owners,
        fallbacks: this.nodes.filter((id) => !owners.includes(id)),
        replicas: owners.map((node) =>
          this.crashed.has(node)
            ? { node, running: false, versions: null, error: `${node} is not running` }
            : {
                node,
                running: true,
                versions: versions.map((v) => ({
                  version: formatVersion(v.clock.dot),
                  value: v.value === null ? null : Buffer.from(v.value),
                  ts_ms: v.ts_ms,
                })),
              },
        ),
        hintsPending: {},
      };
    });
  }

  status(): Promise<ClusterStatus> {
    return this.serve('status', () => {
      const keysPerNode = new Map<string, number>();
      for (const keyText of this.store.keys()) {
        for (const node of this.preferenceList(Buffer.from(keyText, 'latin1'))) {
          keysPerNode.set(node, (keysPerNode.get(node) ?? 0) + 1);
        }
      }
      const running = this.nodes.filter((id) => !this.crashed.has(id));
      return {
        members: this.nodes.map((id) => ({
          id,
          dc: 'dc1',
          rack: id,
          weight: 1,
          running: !this.crashed.has(id),
          ownership: 1 / this.nodes.length,
          seenBy: Object.fromEntries(running.map((observer) => [observer, this.crashed.has(id) ? 'down' : 'alive'])),
          hintsHeld: this.crashed.has(id) ? null : 0,
          keysEstimate: this.crashed.has(id) ? null : (keysPerNode.get(id) ?? 0),
          counters: this.crashed.has(id) ? null : { ...(this.nodeCounters[id] ?? zeroCounters()) },
          antiEntropy: this.crashed.has(id) || this.nodeAntiEntropy[id] === undefined ? null : structuredClone(this.nodeAntiEntropy[id]),
          phi: this.crashed.has(id)
            ? null
            : Object.fromEntries(this.nodes.filter((peer) => peer !== id).map((peer) => [peer, this.crashed.has(peer) ? FAKE_PHI_DOWN : FAKE_PHI_ALIVE])),
        })),
        replication: { n: this.n, dcs: { dc1: this.n }, w: this.defaultW, r: this.defaultR, strict: false },
      };
    });
  }

  async crash(id: string): Promise<void> {
    this.checkNode(id);
    this.crashed.add(id);
  }

  async restart(id: string): Promise<void> {
    this.checkNode(id);
    if (this.crashed.delete(id)) this.nodeCounters[id] = zeroCounters();
  }

  async partition(_groups: string[][]): Promise<void> {
    // The fake has no network; partitions are not modelled.
  }

  async heal(): Promise<void> {
    // Nothing to heal (see `partition`).
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** The fake has fixed members: every membership change is refused. */
  planChange(): Promise<ChangePlan> {
    return Promise.reject(new InvalidRequestError('the fake cluster has fixed members'));
  }

  changeMembership(): Promise<ChangePlan> {
    return this.planChange();
  }

  addNode(): Promise<ChangePlan> {
    return this.planChange();
  }

  decommission(): Promise<ChangePlan> {
    return this.planChange();
  }

  removeNode(): Promise<ChangePlan> {
    return this.planChange();
  }

  replace(): Promise<ChangePlan> {
    return this.planChange();
  }

  async transfers(): Promise<TransfersReport> {
    return { change: null, phase: null, startedAgoMs: null, transfers: [], ringVersion: 0 };
  }

  // -------------------------------------------------------------------------

  /** The write path shared by put and delete (value null = tombstone). */
  private write(key: Bytes, value: Buffer | null, options: WriteOptions): WriteResult {
    const keyBytes = checkKey(key);
    if (value !== null && value.length > VALUE_MAX_BYTES) {
      throw new InvalidRequestError(`value of ${value.length} bytes is over the ${VALUE_MAX_BYTES}-byte limit; store smaller values`);
    }
    const keyText = keyBytes.toString('latin1');
    const before = this.store.get(keyText) ?? [];
    const context = options.overwrite ? join(before.map((v) => v.clock)) : contextFromString(options.context ?? '');
    const owners = this.preferenceList(keyBytes);
    const required = options.consistency ?? options.w ?? this.defaultW;
    const answering = this.answeringOwners(owners, required);
    const coordinator = answering[0]!;
    const ts_ms = this.now_ms();
    const clock = update(context, before.map((v) => v.clock), actorId(coordinator, 0), ts_ms);
    const after = syncBy(before, [{ clock, value: value === null ? null : Buffer.from(value), ts_ms }], (v) => v.clock);
    // A key whose only versions are tombstones stays stored: the real cluster
    // keeps tombstones until their grace period ends.
    this.store.set(keyText, after);
    return {
      context: contextToString(join(after.map((v) => v.clock))),
      superseded: contextToString(context),
      receipt: { ...this.receipt('write', required, answering), version: formatVersion(clock.dot) },
    };
  }

  /** Run `answer` as a request: counted, maybe failed, maybe delayed. */
  private async serve<T>(op: FakeOp, answer: () => T): Promise<T> {
    this.calls[op] += 1;
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
      else await Promise.resolve();
      if (this.closed) throw new Error('the cluster is closed');
      if (this.failure !== null && this.failingOps.has(op)) throw this.failure;
      return answer();
    } finally {
      this.inFlight -= 1;
    }
  }

  /** The key's n owners, in preference order. */
  private preferenceList(key: Buffer): string[] {
    const start = positionOf(key) % this.nodes.length;
    return Array.from({ length: this.n }, (_, i) => this.nodes[(start + i) % this.nodes.length]!);
  }

  /** Running owners; throws `UnavailableError` when fewer than `required` needs. */
  private answeringOwners(owners: string[], required: Requirement): string[] {
    const needed = neededOf(required, this.n);
    const running = owners.filter((id) => !this.crashed.has(id));
    if (running.length < needed) {
      throw new UnavailableError(running.length, needed, `${owners.length - running.length} of ${owners.length} replicas are down`);
    }
    return running;
  }

  private receipt(op: 'read' | 'write', required: Requirement, answering: string[]): Receipt {
    return {
      op,
      required: typeof required === 'number' ? String(required) : `${required} (${neededOf(required, this.n)})`,
      acks: answering.map((node) => ({ node, dc: 'dc1', standingInFor: null, counted: true })),
      failures: [],
      coordinator: answering[0]!,
      sync: 'batch',
    };
  }

  private checkNode(id: string): void {
    if (!this.nodes.includes(id)) throw new InvalidRequestError(`no node ${id}; nodes are ${this.nodes.join(', ')}`);
  }
}

/** Answers needed for `required` among n single-DC replicas; InvalidRequestError if out of range. */
function neededOf(required: Requirement, n: number): number {
  if (typeof required === 'number') {
    if (!Number.isSafeInteger(required) || required < 1 || required > n) {
      throw new InvalidRequestError(`a replica count of ${required} is outside 1..${n} (n=${n}); pick a count in range`);
    }
    return required;
  }
  switch (required) {
    case 'one':
      return 1;
    case 'all':
      return n;
    case 'quorum':
    case 'local_quorum':
    case 'each_quorum':
      return majority(n);
  }
}

function toBuffer(bytes: Bytes): Buffer {
  return typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : Buffer.from(bytes);
}

function checkKey(key: Bytes): Buffer {
  const bytes = toBuffer(key);
  if (bytes.length === 0) throw new InvalidRequestError('the key is empty; give a key of 1 or more bytes');
  if (bytes.length > KEY_MAX_BYTES) {
    throw new InvalidRequestError(`key of ${bytes.length} bytes is over the ${KEY_MAX_BYTES}-byte limit; use a shorter key`);
  }
  return bytes;
}

/** A stand-in ring position: FNV-1a over the key, as a non-negative integer below 2^32. */
function positionOf(key: Buffer): number {
  let hash = 0x811c9dc5;
  for (const byte of key) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return hash;
}

/** A node's counters right after its thread started. */
function zeroCounters(): NodeCounters {
  return { readRepairs: 0, hintsStored: 0, hintsReplayed: 0, compactions: 0, dotConflicts: 0 };
}

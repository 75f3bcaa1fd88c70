/**
 * `openCluster()`: a whole ringkv cluster embedded in a Node program. Every
 * node is a logical thread of actors (`node_plan.ts`); worker threads, one
 * per core but the main thread's by default (`ClusterOptions.threads`),
 * host them, several nodes
 * to a thread when there are more nodes than cores; the calling thread is
 * the client. `crash` crashes a node for real (its actors stop mid-way, its
 * files are fenced off, what was not synced is lost, other nodes on its
 * thread run on) and `restart` starts it again on its data directory,
 * recovering from its commit log and SSTables. `partition` cuts links
 * between nodes in the transport itself.
 *
 * Thread contract: a `Cluster` is used from the thread that opened it.
 */
import { availableParallelism } from 'node:os';
import type { Bytes, Cluster, ClusterOptions, PeersOptions, ClusterStatus, ExplainedExchanges, ExplainResult, MemberStatus, RepairReport, GetManyEntry, GetManyOutcome, PutManyEntry, PutManyOutcome, ReadOptions, ReadResult, WriteOptions, WriteResult } from './cluster_types.js';
import { ClusterClient, toBytes } from './cluster_client.js';
import { labelOf, memberOf, resolveCluster, type ResolvedCluster, type ResolvedNode } from './cluster_config.js';
import { checkClusterOptions } from './cluster_options_check.js';
import { openDataDir, openDataDirWith, type OpenedDataDir } from './data_dir.js';
import { formCluster } from './cluster_formation.js';
import type { ClusterRecord } from './cluster_record.js';
import { DEFAULT_DC, nodeSpecsOf } from './cluster_options_check.js';
import { ProcessLinks } from './process_links.js';
import { processIdOf, ROSTER_VERSION, type ProcessRoster } from './process_roster.js';
import { addressText, parseAddress } from '../core/peer_address.js';
import { PEER_FORMATION_WAIT_MS } from '../core/limits.js';
import { defaultSink } from '../runtime/logger.js';
import { RELAY_ACTOR_ID } from '../../actors/relay.js';
import { decodeDvv } from '../core/dotted_version_vector.js';
import { InvalidRequestError, RingkvError, UnavailableError } from '../core/errors.js';
import type { LivenessStatus } from '../core/liveness.js';
import { REQUEST_TIMEOUT_MS } from '../core/limits.js';
import { placeReplicas } from '../core/placement.js';
import { Ring } from '../core/ring.js';
import { keyPosition } from '../core/tokens.js';
import { formatVersion } from '../core/version_id.js';
import { nodePlan, NODE_MODULES } from './node_plan.js';
import { askNodeStats, type NodeStats } from './node_stats.js';
import type { ActorRef, Message, SpawnSpec } from '../runtime/actor.js';
import { ActorSystem } from '../runtime/actor_system.js';
import { ANTI_ENTROPY_ACTOR_ID, DETECTOR_ACTOR_ID, HANDOFF_ACTOR_ID, REPLICA_ACTOR_ID } from '../../actors/member_refs.js';
import type { KeyExchanges, RepairProgress } from '../../actors/anti_entropy.js';
import type { Version } from '../../storage/version.js';

/** Timeout of the cluster's own status and explain questions to a node. */
const ADMIN_ASK_TIMEOUT_MS = 2000;

/** A relayed question's own deadline is the relay's plus this, so the relay's timeout is the one that answers. */
const RELAY_MARGIN_MS = 500;

/** Clients opened in this process, for unique request-id prefixes. */
let clusterCount = 0;

/**
 * Open (or reopen, on the same `dataDir`) a cluster; resolves once every node
 * runs. Before anything starts: every problem of `options` is reported at
 * once (`ConfigError`); the data directory is locked against other
 * processes and other opens of this one (`DataDirError` naming the holder's
 * pid); and its recorded shape must match (`ConfigError` saying what
 * differs). `close()` releases the directory.
 */
export async function openCluster(options: ClusterOptions): Promise<Cluster> {
  checkClusterOptions(options);
  if (options.peers !== undefined) return openProcess(options, options.peers);
  const dataDir = await openDataDir(options.dataDir, resolveCluster(options));
  try {
    return await startNodes(options, dataDir, null);
  } catch (err) {
    await dataDir.release();
    throw err;
  }
}

/**
 * One process of a cluster spanning several (issue 16): link to the peers,
 * settle the members (the data directory's record, or formation with the
 * seeds: `cluster_formation.ts`), then run this process's nodes, with the
 * threads of the others' nodes routed over the links.
 */
async function openProcess(options: ClusterOptions, peers: PeersOptions): Promise<Cluster> {
  const nodes = nodeSpecsOf(options.nodes).map((spec) => ({ id: spec.id, dc: spec.dc ?? DEFAULT_DC, rack: spec.rack ?? spec.id, weight: spec.weight ?? 1 }));
  const replication = options.replication ?? {};
  const self = processIdOf(nodes.map((n) => n.id));
  let record: ClusterRecord | null = null;
  const roster = (): ProcessRoster => ({
    v: ROSTER_VERSION,
    process: self,
    listen: addressText(parseAddress(peers.listen)),
    nodes,
    replicas: { ...(replication.n !== undefined ? { n: replication.n } : {}), ...(replication.dcs !== undefined ? { dcs: replication.dcs } : {}) },
    record,
  });
  const sink = defaultSink();
  const links = await ProcessLinks.start({
    self,
    listen: parseAddress(peers.listen),
    seeds: peers.seeds.map(parseAddress),
    secret: typeof peers.secret === 'string' ? new TextEncoder().encode(peers.secret) : peers.secret,
    log: (level, msg, fields) => sink({ level, source: 'peers', msg, fields }),
    roster,
  });
  try {
    const dataDir = await openDataDirWith(options.dataDir, async (held) => {
      record = held;
      const rosters = held === null ? await links.waitForSeeds(PEER_FORMATION_WAIT_MS) : [...links.rosters.values()];
      const { w, r, strict } = replication;
      return formCluster(roster(), rosters, { ...(w !== undefined ? { w } : {}), ...(r !== undefined ? { r } : {}), ...(strict !== undefined ? { strict } : {}) }, Date.now());
    });
    try {
      record = dataDir.record;
      links.announce();
      return await startNodes(options, dataDir, links);
    } catch (err) {
      await dataDir.release();
      throw err;
    }
  } catch (err) {
    await links.close();
    throw err;
  }
}

/** Start the nodes this process hosts, on the settled cluster; `links` reach the others' (null: none elsewhere). */
async function startNodes(options: ClusterOptions, dataDir: OpenedDataDir, links: ProcessLinks | null): Promise<Cluster> {
  const config = dataDir.config;
  const local = new Set(dataDir.local);
  const spawn: Record<number, SpawnSpec[]> = {};
  for (const node of config.nodes) {
    if (!local.has(node.member)) continue;
    spawn[node.thread] = nodePlan(config, node, {
      dataDir: options.dataDir,
      ...(options.syncMode ? { syncMode: options.syncMode } : {}),
      ...(options.requestTimeoutMs ? { requestTimeoutMs: options.requestTimeoutMs } : {}),
      ...(options.antiEntropy !== undefined ? { antiEntropy: options.antiEntropy } : {}),
    });
  }
  const remote = config.nodes.filter((n) => !local.has(n.member)).map((n) => n.thread);
  links?.route(config, local);
  const system = await ActorSystem.start({
    threads: config.nodes.length,
    workers: workerThreads(options.threads, local.size),
    modules: [...NODE_MODULES],
    spawn,
    ...(links !== null ? { remote: { threads: remote, forward: links.forward } } : {}),
  });
  links?.attach((envelopes) => system.fromPeer(envelopes));
  return new EmbeddedCluster(config, system, options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS, dataDir, links);
}

/**
 * Worker threads for `nodes` nodes: as asked, else one per core but the one
 * the main thread (the servers, the embedding API) keeps; at least one,
 * never more than the nodes. Measured on 2 cores, 5 nodes (issue 14): on 1
 * worker a replicated SET cost 175–205 µs of CPU at depth 1 against 245–290
 * on 2 and 520 on 5, and an embedded put took 350 µs (p50) against 640 and
 * 1490; only pipelined SETs went faster on 2 (13.7k/s against 11.0–13.2k).
 */
export function workerThreads(asked: number | undefined, nodes: number): number {
  return Math.min(nodes, asked ?? Math.max(1, availableParallelism() - 1));
}

class EmbeddedCluster implements Cluster {
  readonly nodes: readonly string[];
  /** Nodes of this process that run. */
  private readonly running = new Set<string>();
  /** Nodes this process hosts (all, unless the cluster spans processes). */
  private readonly local: ReadonlySet<string>;
  private readonly client: ClusterClient;
  private readonly ring: Ring;
  private closed = false;

  constructor(
    private readonly config: ResolvedCluster,
    private readonly system: ActorSystem,
    requestTimeoutMs: number,
    /** The locked data directory, released once the nodes stopped. */
    private readonly dataDir: OpenedDataDir,
    /** Links to the processes hosting the other nodes; null when all run here. */
    private readonly links: ProcessLinks | null,
  ) {
    this.nodes = config.nodes.map((n) => n.label);
    this.local = new Set(dataDir.local);
    for (const member of this.local) this.running.add(member);
    this.ring = Ring.fromTokens(config.ring);
    const ask = <R>(to: ActorRef, msg: Message, timeout_ms: number): Promise<R> => system.ask<R>(to, msg, timeout_ms);
    this.client = new ClusterClient(config, ask, (member) => this.running.has(member), `cluster${++clusterCount}`, requestTimeoutMs);
    // A node thread that dies on its own (not through `crash`) is stopped until restarted.
    system.onCrash((crash) => {
      const node = config.nodes.find((n) => n.thread === crash.thread);
      if (node) this.running.delete(node.member);
    });
  }

  put(key: Bytes, value: Bytes, options?: WriteOptions): Promise<WriteResult> {
    return this.open().client.put(key, value, options);
  }

  putMany(entries: readonly PutManyEntry[]): Promise<PutManyOutcome[]> {
    return this.open().client.putMany(entries);
  }

  get(key: Bytes, options?: ReadOptions): Promise<ReadResult> {
    return this.open().client.get(key, options);
  }

  getMany(entries: readonly GetManyEntry[]): Promise<GetManyOutcome[]> {
    return this.open().client.getMany(entries);
  }

  delete(key: Bytes, options?: WriteOptions): Promise<WriteResult> {
    return this.open().client.put(key, null, options);
  }

  async explain(key: Bytes): Promise<ExplainResult> {
    const keyBytes = toBytes(key, 'key');
    const pref = placeReplicas(this.open().ring, keyBytes, this.config.replication.dcs);
    const askable = await this.askable();
    const replicas = await Promise.all(
      pref.replicas.map(async (member) => {
        const node = this.byMember(member);
        const running = askable(member);
        if (!running) return { node: node.label, running, versions: null, error: 'stopped' };
        try {
          const held = await this.ask<Version[]>(node, REPLICA_ACTOR_ID, { type: 'get', key: keyBytes });
          const versions = held.map((v) => ({
            version: formatVersion(decodeDvv(v.clock).dot),
            value: v.value === null ? null : Buffer.from(v.value),
            ts_ms: v.ts_ms,
          }));
          return { node: node.label, running, versions };
        } catch (err) {
          // The taxonomy's message (what happened, what to do), never a raw "Error: ..." string.
          const why = err instanceof RingkvError ? err.message : `internal error asking its replica (retry; the node log has the detail): ${err instanceof Error ? err.message : String(err)}`;
          return { node: node.label, running, versions: null, error: why };
        }
      }),
    );
    const owners = new Set(pref.replicas);
    const hintsPending: ExplainResult['hintsPending'] = {};
    for (const [holder, pending] of await this.hintsPerNode(askable)) {
      if (!pending) continue;
      const forOwners = Object.entries(pending.byOwner).filter(([owner, count]) => owners.has(owner) && count > 0);
      if (forOwners.length > 0) hintsPending[holder.label] = Object.fromEntries(forOwners.map(([owner, count]) => [labelOf(this.config, owner), count]));
    }
    const antiEntropy = await this.explainExchanges(keyBytes, pref.replicas, askable);
    return {
      key: Buffer.from(keyBytes),
      position: keyPosition(keyBytes),
      preferenceList: pref.replicas.map((m) => labelOf(this.config, m)),
      fallbacks: pref.fallbacks.map((m) => labelOf(this.config, m)),
      replicas,
      hintsPending,
      ...(antiEntropy !== null ? { antiEntropy } : {}),
    };
  }

  /** When each running owner last exchanged the key's replica group with the others; null when no owner answered (anti-entropy off). */
  private async explainExchanges(key: Uint8Array, owners: readonly string[], askable: (member: string) => boolean): Promise<ExplainedExchanges | null> {
    let group: string | null = null;
    const exchanges: ExplainedExchanges['exchanges'] = [];
    for (const member of owners) {
      if (!askable(member)) continue;
      const node = this.byMember(member);
      const answer = await this.ask<KeyExchanges>(node, ANTI_ENTROPY_ACTOR_ID, { type: 'ae-key', key }).catch(() => null);
      if (answer === null) continue;
      group = answer.group;
      for (const p of answer.peers) exchanges.push({ node: node.label, peer: labelOf(this.config, p.peer), lastSuccessAgeMs: p.lastSuccessAgeMs, lastOutcome: p.lastOutcome });
    }
    return group === null ? null : { group: group.split(',').map((m) => labelOf(this.config, m)).join(','), exchanges };
  }

  repair(): Promise<RepairReport> {
    return this.repairAsk('ae-repair');
  }

  repairProgress(): Promise<RepairReport> {
    return this.repairAsk('ae-progress');
  }

  private async repairAsk(type: 'ae-repair' | 'ae-progress'): Promise<RepairReport> {
    this.open();
    const askable = await this.askable();
    const answers = await Promise.all(
      this.config.nodes.map(async (node) => [node.label, askable(node.member) ? await this.ask<RepairProgress>(node, ANTI_ENTROPY_ACTOR_ID, { type }).catch(() => null) : null] as const),
    );
    const report: RepairReport = { running: false, pairsTotal: 0, pairsDone: 0, keysRepaired: 0, nodes: {} };
    for (const [label, progress] of answers) {
      if (progress === null) {
        report.nodes[label] = null;
        continue;
      }
      const pending = progress.pending.map((pair) => {
        const [group, peer] = pair.split('>') as [string, string];
        return `${group.split(',').map((m) => labelOf(this.config, m)).join(',')}>${labelOf(this.config, peer)}`;
      });
      report.nodes[label] = { ...progress, pending };
      report.running ||= progress.running;
      report.pairsTotal += progress.pairsTotal;
      report.pairsDone += progress.pairsDone;
      report.keysRepaired += progress.keysRepaired;
    }
    return report;
  }

  async status(): Promise<ClusterStatus> {
    const ownership = this.open().ring.ownership();
    const askable = await this.askable();
    const [views, hintsList, keys, nodeStats] = await Promise.all([
      Promise.all(
        this.config.nodes.map(async (node) => (askable(node.member) ? this.ask<Record<string, LivenessStatus>>(node, DETECTOR_ACTOR_ID, { type: 'liveness-view' }).catch(() => null) : null)),
      ),
      this.hintsPerNode(askable),
      Promise.all(
        this.config.nodes.map(async (node) =>
          askable(node.member) ? this.ask<{ keysEstimate?: number }>(node, REPLICA_ACTOR_ID, { type: 'stats' }).then((s) => s.keysEstimate ?? null, () => null) : null,
        ),
      ),
      Promise.all(
        this.config.nodes.map(async (node): Promise<NodeStats | null> =>
          askable(node.member) ? askNodeStats((id, msg) => this.ask(node, id, msg), (member) => labelOf(this.config, member)) : null,
        ),
      ),
    ]);
    const hints = new Map(hintsList);
    const members = this.config.nodes.map((node, i): MemberStatus => {
      const seenBy: Record<string, LivenessStatus> = {};
      this.config.nodes.forEach((observer, j) => {
        const view = views[j];
        if (observer === node) {
          if (view) seenBy[observer.label] = 'alive';
          return;
        }
        const status = view?.[node.member];
        if (status) seenBy[observer.label] = status;
      });
      return {
        id: node.label,
        dc: node.dc,
        rack: node.rack,
        weight: node.weight,
        running: this.local.has(node.member) ? this.running.has(node.member) : views[i] !== null,
        ...(node.host !== undefined ? { host: node.host } : {}),
        ownership: ownership.get(node.member) ?? 0,
        seenBy,
        hintsHeld: hints.get(node)?.total ?? null,
        keysEstimate: keys[i] ?? null,
        counters: nodeStats[i]?.counters ?? null,
        phi: nodeStats[i]?.phi ?? null,
        storage: nodeStats[i]?.storage ?? null,
        antiEntropy: nodeStats[i]?.antiEntropy ?? null,
      };
    });
    const { dcs, n, w, r, strict } = this.config.replication;
    return { members, replication: { dcs: { ...dcs }, n, w, r, strict }, ...(this.links !== null ? { links: this.links.stats() } : {}) };
  }

  async crash(id: string): Promise<void> {
    const node = this.hosted(id);
    this.open();
    if (!this.running.has(node.member)) return;
    this.running.delete(node.member);
    await this.system.terminateThread(node.thread);
  }

  async restart(id: string): Promise<void> {
    const node = this.hosted(id);
    this.open();
    if (this.running.has(node.member)) return;
    await this.system.restartThread(node.thread);
    this.running.add(node.member);
  }

  partition(groups: string[][]): Promise<void> {
    this.open();
    return this.system.partition(groups.map((group) => group.map((label) => this.hosted(label).thread)));
  }

  heal(): Promise<void> {
    this.open();
    return this.system.heal();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Memtables go to SSTables first, so the next open replays little; then every actor closes its files.
    await Promise.all(
      this.config.nodes.filter((node) => this.running.has(node.member)).map((node) => this.ask(node, REPLICA_ACTOR_ID, { type: 'flush' }, 30_000).catch(() => undefined)),
    );
    try {
      await this.system.shutdown();
    } finally {
      await this.links?.close();
      await this.dataDir.release();
    }
  }

  private open(): this {
    if (this.closed) throw new InvalidRequestError('this cluster is closed; open it again with openCluster');
    return this;
  }

  private byMember(member: string): ResolvedNode {
    return this.config.nodes.find((n) => n.member === member)!;
  }

  /** The node `id` if this process hosts it; `InvalidRequestError` naming where it runs otherwise. */
  private hosted(id: string): ResolvedNode {
    const node = memberOf(this.config, id);
    if (!this.local.has(node.member)) throw new InvalidRequestError(`node ${id} runs in another process (at ${node.host ?? '?'}): crash, restart or partition it there`);
    return node;
  }

  /**
   * Ask an actor of `node`: directly when this process hosts it, else
   * through the relay of a running node of this process (the main thread
   * cannot be answered from another process: `actors/relay.ts`).
   */
  private ask<R>(node: ResolvedNode, id: string, msg: Message, timeout_ms = ADMIN_ASK_TIMEOUT_MS): Promise<R> {
    if (this.local.has(node.member)) return this.system.ask<R>({ thread: node.thread, id }, msg, timeout_ms);
    const via = this.config.nodes.find((n) => this.running.has(n.member));
    if (via === undefined) return Promise.reject(new UnavailableError(0, 1, `no node of this process runs to reach ${node.label} through`, 'restart a node of this process'));
    return this.system.ask<R>({ thread: via.thread, id: RELAY_ACTOR_ID }, { type: 'relay', to: { thread: node.thread, id }, msg, timeout_ms }, timeout_ms + RELAY_MARGIN_MS);
  }

  /**
   * Which nodes the admin questions (status, explain, repair) go to: the
   * running nodes of this process, and the nodes of other processes that a
   * running local detector does not hold down (asking a dead process would
   * only wait for the deadline).
   */
  private async askable(): Promise<(member: string) => boolean> {
    if (this.links === null) return (member) => this.running.has(member);
    const via = this.config.nodes.find((n) => this.running.has(n.member));
    if (via === undefined) return () => false;
    const view = await this.ask<Record<string, LivenessStatus>>(via, DETECTOR_ACTOR_ID, { type: 'liveness-view' }).catch(() => ({}) as Record<string, LivenessStatus>);
    return (member) => (this.local.has(member) ? this.running.has(member) : view[member] !== 'down' && view[member] !== 'left');
  }

  /** Each node's pending hints, null where it could not be asked. */
  private hintsPerNode(askable: (member: string) => boolean): Promise<[ResolvedNode, { total: number; byOwner: Record<string, number> } | null][]> {
    return Promise.all(
      this.config.nodes.map(async (node): Promise<[ResolvedNode, { total: number; byOwner: Record<string, number> } | null]> => {
        if (!askable(node.member)) return [node, null];
        const pending = await this.ask<{ total: number; byOwner: Record<string, number> }>(node, HANDOFF_ACTOR_ID, { type: 'hints-pending' }).catch(() => null);
        return [node, pending];
      }),
    );
  }
}

/**
 * Prometheus metrics of one ringkv server, over its own prom-client
 * `Registry` (never the global default, so several servers in one process do
 * not clash). Three kinds of input:
 *   - the surfaces (RESP, HTTP) report every request (`RequestObserver`);
 *   - `cluster.status()`, read through a `StatusCache` (one fetch per
 *     METRICS_STATUS_CACHE_MS however many scrapes arrive), fills the
 *     scrape-time gauges, and feeds the node-internal series: each node's
 *     cumulative counters become increments of the read-repair, hint and
 *     compaction counters below (`counter_deltas.ts`: a value lower than
 *     last time is a node restart), and each node's phi per peer sets
 *     `ringkv_phi`. A scrape waits for its sample, so it shows that sample;
 *   - the `observedCluster` decorator reports what each request's result
 *     shows (replica acks, siblings per read) through `ClusterEventObserver`.
 *
 * Series (counters end in `_total`; histograms add `_bucket`/`_sum`/`_count`):
 *
 *   ringkv_requests_total{surface,command,outcome}     requests served; outcome ok|error
 *   ringkv_request_duration_seconds{surface,command}   service time histogram
 *   ringkv_replica_acks_total                          replica acknowledgements at coordinators
 *   ringkv_read_repairs_total                          read-repair writes sent (from status)
 *   ringkv_siblings_returned                           histogram of siblings per read
 *   ringkv_get_hidden_siblings_total                   plain Redis reads (GET, MGET, SET GET) that answered one of
 *                                                      several siblings (the latest written; KV.GET shows all)
 *   ringkv_hints_stored_total                          hints stored for unreachable owners (from status)
 *   ringkv_hints_replayed_total                        hints delivered to their owners (from status)
 *   ringkv_compactions_total                           storage compactions finished (from status)
 *   ringkv_dot_conflicts_total                         one dot met naming two values (from status): a broken
 *                                                      invariant (issue 12), alert on any increase
 *   ringkv_phi{observer,peer}                          phi-accrual suspicion of peer at observer (from status;
 *                                                      an observer's series go when it stops answering)
 *   ringkv_cluster_members                             members in the cluster (scrape time)
 *   ringkv_member_running{member}                      1 while the member's thread runs
 *   ringkv_member_ownership_ratio{member}              share of the ring it owns, 0..1
 *   ringkv_members{observer,status}                    members observer sees in each liveness status
 *   ringkv_member_liveness{observer,member,status}     state set: 1 for the status observer sees, else 0
 *   ringkv_hints_pending{node}                         hints node holds for others
 *   ringkv_keys_estimate{node}                         live keys node's replica holds (background scan)
 *   ringkv_node_storage_failed{node}                   1 while node's storage is failed (it cannot open or a
 *                                                      write failed it; the node is treated as down), else 0
 *   ringkv_sstable_checksum_failures_total{node,file}  SSTable data blocks that failed their checksum (from
 *                                                      status; each damaged table is then quarantined)
 *   ringkv_anti_entropy_exchanges_total{outcome}       anti-entropy exchanges ended: in-sync, diverged, full-sync
 *                                                      (completed) or aborted (from status)
 *   ringkv_anti_entropy_keys_repaired_total            keys fetched from a peer and merged by anti-entropy
 *   ringkv_anti_entropy_bytes_total{direction}         bytes anti-entropy sent (tree labels, key digests) or fetched
 *   ringkv_anti_entropy_groups_out_of_sync{node}       replica groups whose last exchange with some peer found a
 *                                                      difference, failed, or never ran
 *   ringkv_anti_entropy_oldest_exchange_age_seconds{node}  longest any (group, peer) pair of node has gone without a
 *                                                      completed exchange (per node, not per range: bounded labels)
 *   ringkv_anti_entropy_tree_bytes{node}               memory of node's hash trees
 *   ringkv_peer_link_up{peer}                          1 while this process's link to peer process is up (multi-process
 *                                                      clusters; one series per peer process)
 *   ringkv_peer_connections_rejected_total             peer connections dropped: failed handshake, malformed or oversized frame
 *   ringkv_peer_envelopes_total{direction}             actor messages sent to, received from, or refused for peer processes
 *   ringkv_membership_change_in_progress               1 while a membership change runs (issue 16)
 *   ringkv_membership_transfers{state}                 its transfers by state (not started, waiting, running, verified, failed)
 *   ringkv_membership_transfer_bytes                   bytes its transfers moved; ..._rate_bytes_per_second their rate
 *   ringkv_cluster_status_up                           1 if the last status fetch succeeded
 *   ringkv_cluster_status_fetches_total{outcome}       status fetches made for scrapes
 *   ringkv_metrics_dropped_total{metric}               reports dropped by a series bound
 * plus prom-client's default process and Node.js series (`process_*`, `nodejs_*`).
 *
 * Label bounds: a command label is kept only if it looks like a command name
 * and fewer than METRICS_COMMANDS_MAX distinct ones were seen (otherwise it
 * becomes "other"); phi pairs beyond METRICS_PHI_PAIRS_MAX are dropped and
 * counted; per-member liveness beyond METRICS_LIVENESS_PAIRS_MAX (observer,
 * member) pairs is left out of a scrape, and each such scrape is counted;
 * counters of nodes beyond MEMBERS_MAX are dropped and counted.
 * A client sending random command names cannot grow memory without bound.
 *
 * Thread contract: main thread only.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ClusterStatus, NodeCounters } from '../cluster/cluster_types.js';
import { assert } from '../core/assert.js';
import type { LivenessStatus } from '../core/liveness.js';
import {
  CHECKSUM_FAILURE_FILES_MAX,
  MEMBERS_MAX,
  METRICS_COMMANDS_MAX,
  METRICS_LIVENESS_PAIRS_MAX,
  METRICS_PHI_PAIRS_MAX,
  METRICS_STATUS_CACHE_MS,
  METRICS_STATUS_TIMEOUT_MS,
} from '../core/limits.js';
import type { ClusterEventObserver } from './cluster_event_observer.js';
import { CounterDeltas } from './counter_deltas.js';
import type { RequestObserver, Surface } from './request_observer.js';
import { StatusCache, type StatusSample } from './status_cache.js';

/** The liveness statuses, for the state-set series. */
const LIVENESS_STATUSES: readonly LivenessStatus[] = ['alive', 'suspect', 'down', 'left'];

/** Latency buckets, seconds: 250 µs (a local hit) to 10 s (beyond any request deadline). */
const LATENCY_BUCKETS_S = [0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Sibling-count buckets: 0 (absent), 1 (the normal case), then up to SIBLINGS_MAX (64). */
const SIBLING_BUCKETS = [0, 1, 2, 3, 4, 8, 16, 32, 64];

/** The fields of `NodeCounters`, each fed into one counter series. */
/** Anti-entropy exchange outcomes, each a label value of ringkv_anti_entropy_exchanges_total. */
const AE_OUTCOMES = ['in-sync', 'diverged', 'full-sync', 'aborted'] as const;
/** Anti-entropy counters followed per node: the outcomes, keys repaired, bytes sent and fetched. */
const AE_COUNTER_FIELDS = AE_OUTCOMES.length + 3;

const NODE_COUNTER_FIELDS: readonly (keyof NodeCounters)[] = ['readRepairs', 'hintsStored', 'hintsReplayed', 'compactions', 'dotConflicts'];

/** What a command label may look like (upper-case RESP commands, dotted HTTP route names). */
const COMMAND_LABEL = /^[A-Za-z][A-Za-z0-9._-]{0,31}$/;

/** How `ServerMetrics` is built. */
export interface ServerMetricsOptions {
  /** The cluster whose status the scrape-time gauges show (or call `observeCluster` later). */
  cluster?: { status(): Promise<ClusterStatus> };
  /** Monotonic clock, ms (default `performance.now`); tests step it by hand. */
  nowMs?: () => number;
  /** How long a status sample is reused, ms (default METRICS_STATUS_CACHE_MS). */
  statusCacheMs?: number;
  /** Deadline of one status fetch, ms (default METRICS_STATUS_TIMEOUT_MS). */
  statusTimeoutMs?: number;
  /** Include prom-client's default process/Node.js series (default true). */
  defaultMetrics?: boolean;
}

/** Metrics of one server: a request observer, a cluster event observer and a Prometheus registry. */
export class ServerMetrics implements RequestObserver, ClusterEventObserver {
  /** This server's own registry. */
  readonly registry = new Registry();
  /** The Content-Type of `text()`. */
  readonly contentType: string = this.registry.contentType;

  /** Requests by surface, command and outcome. */
  private readonly requests: Counter<'surface' | 'command' | 'outcome'>;
  /** Service time by surface and command. */
  private readonly latency: Histogram<'surface' | 'command'>;
  /** Cluster event counters. */
  private readonly acks: Counter;
  private readonly repairs: Counter;
  private readonly hiddenSiblings: Counter;
  private readonly siblings: Histogram;
  private readonly hintsStoredCounter: Counter;
  private readonly hintsReplayedCounter: Counter;
  private readonly compactionsCounter: Counter;
  private readonly dotConflictsCounter: Counter;
  private readonly checksumFailuresCounter: Counter<'node' | 'file'>;
  private readonly aeExchanges: Counter<'outcome'>;
  private readonly aeKeysRepaired: Counter;
  private readonly aeBytes: Counter<'direction'>;
  /** Last cumulative anti-entropy count per node and field, for increments. */
  private readonly aeDeltas = new CounterDeltas(MEMBERS_MAX * AE_COUNTER_FIELDS);
  private readonly peerRejected: Counter;
  private readonly peerEnvelopes: Counter<'direction'>;
  /** This process's link counters (rejected, sent, received, refused): one set per process. */
  private readonly peerDeltas = new CounterDeltas(4);
  /** Last cumulative checksum-failure count per node and file, for increments. */
  private readonly checksumFailureDeltas = new CounterDeltas(MEMBERS_MAX * CHECKSUM_FAILURE_FILES_MAX);
  /** Phi per (observer, peer). */
  private readonly phi: Gauge<'observer' | 'peer'>;
  /** Reports dropped by a series bound, by metric. */
  private readonly dropped: Counter<'metric'>;
  /** Status fetches by outcome; created with the status gauges in `registerStatusGauges`. */
  private statusFetches!: Counter<'outcome'>;
  /** Distinct `surface command` labels seen, bounded by METRICS_COMMANDS_MAX. */
  private readonly commandLabels = new Set<string>();
  /** Distinct `observer peer` phi pairs seen, bounded by METRICS_PHI_PAIRS_MAX. */
  private readonly phiPairs = new Set<string>();
  /** The status source for scrape-time gauges; null until a cluster is given. */
  private statusCache: StatusCache | null = null;
  /** Last cumulative value of each node's counters (key: node id and field), for increments. */
  private readonly nodeCounterDeltas = new CounterDeltas(MEMBERS_MAX * NODE_COUNTER_FIELDS.length);
  /** The phi pairs the last status sample set, so pairs it no longer reports are removed. */
  private phiFromStatus = new Map<string, { observer: string; peer: string }>();
  private readonly nowMs: () => number;

  constructor(private readonly options: ServerMetricsOptions = {}) {
    this.nowMs = options.nowMs ?? (() => performance.now());
    const registers = [this.registry];
    // The series fed from status samples wait for the scrape's sample before they are read.
    const collect = async (): Promise<void> => {
      await this.statusCache?.get();
    };
    this.requests = new Counter({ name: 'ringkv_requests_total', help: 'Requests served, by surface, command and outcome.', labelNames: ['surface', 'command', 'outcome'], registers });
    this.latency = new Histogram({ name: 'ringkv_request_duration_seconds', help: 'Request service time in seconds, by surface and command.', labelNames: ['surface', 'command'], buckets: LATENCY_BUCKETS_S, registers });
    this.acks = new Counter({ name: 'ringkv_replica_acks_total', help: 'Replica acknowledgements received by coordinators.', registers });
    this.repairs = new Counter({ name: 'ringkv_read_repairs_total', help: 'Read-repair writes sent to stale replicas.', registers, collect });
    this.hiddenSiblings = new Counter({ name: 'ringkv_get_hidden_siblings_total', help: 'Plain Redis reads (GET, MGET, SET GET) that answered one of several siblings, hiding the others.', registers });
    this.siblings = new Histogram({ name: 'ringkv_siblings_returned', help: 'Sibling values returned per read.', buckets: SIBLING_BUCKETS, registers });
    this.hintsStoredCounter = new Counter({ name: 'ringkv_hints_stored_total', help: 'Hints stored for unreachable owners (hinted handoff).', registers, collect });
    this.hintsReplayedCounter = new Counter({ name: 'ringkv_hints_replayed_total', help: 'Hints delivered to their owners.', registers, collect });
    this.compactionsCounter = new Counter({ name: 'ringkv_compactions_total', help: 'Storage compactions finished.', registers, collect });
    this.dotConflictsCounter = new Counter({
      name: 'ringkv_dot_conflicts_total',
      help: 'Times a node met one version id (dot) naming two different values; both are kept. Any increase is a bug.',
      registers,
      collect,
    });
    this.phi = new Gauge({ name: 'ringkv_phi', help: 'Phi-accrual suspicion level of peer as seen by observer.', labelNames: ['observer', 'peer'], registers, collect });
    this.checksumFailuresCounter = new Counter({
      name: 'ringkv_sstable_checksum_failures_total',
      help: 'SSTable data blocks that failed their checksum, per node and file; the table is then quarantined (moved to <node dir>/quarantine/) and its keys repaired from the other replicas.',
      labelNames: ['node', 'file'],
      registers,
      collect,
    });
    this.aeExchanges = new Counter({
      name: 'ringkv_anti_entropy_exchanges_total',
      help: 'Anti-entropy exchanges ended, by outcome: in-sync, diverged and full-sync completed (the last two found differences and fetched them), aborted did not.',
      labelNames: ['outcome'],
      registers,
      collect,
    });
    this.aeKeysRepaired = new Counter({ name: 'ringkv_anti_entropy_keys_repaired_total', help: 'Keys anti-entropy fetched from a peer replica and merged.', registers, collect });
    this.aeBytes = new Counter({
      name: 'ringkv_anti_entropy_bytes_total',
      help: 'Bytes anti-entropy sent (tree labels and key digests) or fetched (keys and versions), by direction.',
      labelNames: ['direction'],
      registers,
      collect,
    });
    this.peerRejected = new Counter({
      name: 'ringkv_peer_connections_rejected_total',
      help: 'Connections to the peer port dropped for failing the cluster-secret handshake or sending a malformed or oversized frame (multi-process clusters).',
      registers,
      collect,
    });
    this.peerEnvelopes = new Counter({
      name: 'ringkv_peer_envelopes_total',
      help: 'Actor messages carried between processes, by direction: sent, received, or refused (the link to the peer was full).',
      labelNames: ['direction'],
      registers,
      collect,
    });
    this.dropped = new Counter({ name: 'ringkv_metrics_dropped_total', help: 'Reports dropped because a series bound was reached, by metric.', labelNames: ['metric'], registers });
    this.registerStatusGauges();
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    if (options.cluster) this.observeCluster(options.cluster);
  }

  /** Show `cluster`'s status in the scrape-time gauges (replaces any previous cluster). */
  observeCluster(cluster: { status(): Promise<ClusterStatus> }): void {
    this.statusCache = new StatusCache({
      fetchStatus: () => cluster.status(),
      cacheMs: this.options.statusCacheMs ?? METRICS_STATUS_CACHE_MS,
      timeoutMs: this.options.statusTimeoutMs ?? METRICS_STATUS_TIMEOUT_MS,
      nowMs: this.nowMs,
      onFetch: (sample) => {
        this.statusFetches.inc({ outcome: sample.ok ? 'ok' : 'error' });
        if (sample.ok) this.feedFromStatus(sample.status);
      },
    });
  }

  /** Every series in Prometheus text format. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  // --- RequestObserver ---------------------------------------------------

  request(surface: Surface, command: string, seconds: number, outcome: 'ok' | 'error'): void {
    assert(Number.isFinite(seconds) && seconds >= 0, 'a service time is a non-negative number of seconds');
    const label = this.commandLabel(surface, command);
    this.requests.inc({ surface, command: label, outcome });
    this.latency.observe({ surface, command: label }, seconds);
  }

  getHidSiblings(): void {
    this.hiddenSiblings.inc();
  }

  // --- ClusterEventObserver ----------------------------------------------

  replicaAcks(count: number): void {
    this.acks.inc(checkCount(count));
  }

  readRepairs(count: number): void {
    this.repairs.inc(checkCount(count));
  }

  siblingsReturned(siblings: number): void {
    this.siblings.observe(checkCount(siblings));
  }

  hintsStored(count: number): void {
    this.hintsStoredCounter.inc(checkCount(count));
  }

  hintsReplayed(count: number): void {
    this.hintsReplayedCounter.inc(checkCount(count));
  }

  compactions(count: number): void {
    this.compactionsCounter.inc(checkCount(count));
  }

  dotConflicts(count: number): void {
    this.dotConflictsCounter.inc(checkCount(count));
  }

  setPhi(observer: string, peer: string, phi: number): void {
    assert(!Number.isNaN(phi) && phi >= 0, 'phi is a non-negative number (Infinity allowed)');
    const pair = `${observer}\u0000${peer}`;
    if (!this.phiPairs.has(pair)) {
      if (this.phiPairs.size >= METRICS_PHI_PAIRS_MAX) {
        this.dropped.inc({ metric: 'ringkv_phi' });
        return;
      }
      this.phiPairs.add(pair);
    }
    this.phi.set({ observer, peer }, phi);
  }

  // --- helpers -------------------------------------------------------------

  /**
   * Feed the node-internal series from one status sample: each node's
   * counters as increments since the last sample (a node that did not
   * answer keeps its last values), and every observer's phi per peer. Phi
   * series the sample no longer reports (a crashed observer, a departed
   * peer) are removed rather than left at a stale value.
   */
  private feedFromStatus(status: ClusterStatus): void {
    const counterOf: Record<keyof NodeCounters, { name: string; report: (count: number) => void }> = {
      readRepairs: { name: 'ringkv_read_repairs_total', report: (n) => this.readRepairs(n) },
      hintsStored: { name: 'ringkv_hints_stored_total', report: (n) => this.hintsStored(n) },
      hintsReplayed: { name: 'ringkv_hints_replayed_total', report: (n) => this.hintsReplayed(n) },
      compactions: { name: 'ringkv_compactions_total', report: (n) => this.compactions(n) },
      dotConflicts: { name: 'ringkv_dot_conflicts_total', report: (n) => this.dotConflicts(n) },
    };
    const phiPairs = new Map<string, { observer: string; peer: string }>();
    for (const member of status.members) {
      const counters = member.counters;
      if (counters !== null) {
        for (const field of NODE_COUNTER_FIELDS) {
          const target = counterOf[field];
          const increment = this.nodeCounterDeltas.advance(`${member.id}\u0000${field}`, counters[field]);
          if (increment === null) this.dropped.inc({ metric: target.name });
          else if (increment > 0) target.report(increment);
        }
      }
      for (const [file, count] of Object.entries(member.storage?.checksumFailures ?? {})) {
        const increment = this.checksumFailureDeltas.advance(`${member.id}\u0000${file}`, count);
        if (increment === null) this.dropped.inc({ metric: 'ringkv_sstable_checksum_failures_total' });
        else if (increment > 0) this.checksumFailuresCounter.inc({ node: member.id, file }, increment);
      }
      const ae = member.antiEntropy;
      if (ae) {
        const fields: [string, number, (n: number) => void][] = [
          ...AE_OUTCOMES.map((outcome): [string, number, (n: number) => void] => [outcome, ae.exchanges[outcome], (n) => this.aeExchanges.inc({ outcome }, n)]),
          ['keys', ae.keysRepaired, (n) => this.aeKeysRepaired.inc(n)],
          ['sent', ae.bytesSent, (n) => this.aeBytes.inc({ direction: 'sent' }, n)],
          ['fetched', ae.bytesFetched, (n) => this.aeBytes.inc({ direction: 'fetched' }, n)],
        ];
        for (const [field, value, report] of fields) {
          const increment = this.aeDeltas.advance(`${member.id}\u0000${field}`, value);
          if (increment === null) this.dropped.inc({ metric: 'ringkv_anti_entropy' });
          else if (increment > 0) report(increment);
        }
      }
      for (const [peer, phi] of Object.entries(member.phi ?? {})) {
        this.setPhi(member.id, peer, phi);
        const pair = `${member.id}\u0000${peer}`;
        if (this.phiPairs.has(pair)) phiPairs.set(pair, { observer: member.id, peer }); // else dropped by the bound
      }
    }
    if (status.links) {
      const links = status.links;
      const sum = (field: 'envelopesSent' | 'refused'): number => links.links.reduce((total, l) => total + l[field], 0);
      const fields: [string, number, (n: number) => void][] = [
        ['rejected', links.rejected, (n) => this.peerRejected.inc(n)],
        ['sent', sum('envelopesSent'), (n) => this.peerEnvelopes.inc({ direction: 'sent' }, n)],
        ['received', links.envelopesReceived, (n) => this.peerEnvelopes.inc({ direction: 'received' }, n)],
        ['refused', sum('refused'), (n) => this.peerEnvelopes.inc({ direction: 'refused' }, n)],
      ];
      for (const [field, value, report] of fields) {
        const increment = this.peerDeltas.advance(field, value);
        if (increment !== null && increment > 0) report(increment);
      }
    }
    for (const [pair, labels] of this.phiFromStatus) if (!phiPairs.has(pair)) this.phi.remove(labels);
    this.phiFromStatus = phiPairs;
  }

  /** `command` if it is a plausible name and within the distinct-label bound, else "other". */
  private commandLabel(surface: Surface, command: string): string {
    if (!COMMAND_LABEL.test(command)) return 'other';
    const key = `${surface} ${command}`;
    if (this.commandLabels.has(key)) return command;
    if (this.commandLabels.size >= METRICS_COMMANDS_MAX) {
      this.dropped.inc({ metric: 'ringkv_requests_total' });
      return 'other';
    }
    this.commandLabels.add(key);
    return command;
  }

  /**
   * The gauges filled from `cluster.status()` at scrape time. Each one's
   * collect callback awaits the shared cached sample, clears its old series
   * (so departed members disappear) and sets the current ones.
   */
  private registerStatusGauges(): void {
    const registers = [this.registry];
    const sample = (): Promise<StatusSample | null> => this.statusCache?.get() ?? Promise.resolve(null);
    const statusGauge = <L extends string>(name: string, help: string, labelNames: L[], fill: (gauge: Gauge<L>, status: ClusterStatus) => void): void => {
      new Gauge<L>({
        name,
        help,
        labelNames,
        registers,
        async collect() {
          const current = await sample();
          this.reset();
          if (current?.ok) fill(this, current.status);
        },
      });
    };
    this.statusFetches = new Counter({
      name: 'ringkv_cluster_status_fetches_total',
      help: 'Cluster status fetches made for metrics scrapes, by outcome.',
      labelNames: ['outcome'],
      registers,
      // Wait for this scrape's sample, so a fetch the scrape itself started is counted in it.
      async collect() {
        await sample();
      },
    });
    new Gauge({
      name: 'ringkv_cluster_status_up',
      help: 'Whether the last cluster status fetch for a scrape succeeded (1) or failed or timed out (0).',
      registers,
      async collect() {
        const current = await sample();
        this.set(current?.ok ? 1 : 0);
      },
    });
    statusGauge('ringkv_cluster_members', 'Members in the cluster.', [], (g, s) => g.set(s.members.length));
    statusGauge('ringkv_member_running', 'Whether the member\'s thread runs (1) or is crashed (0).', ['member'], (g, s) => {
      for (const m of s.members) g.set({ member: m.id }, m.running ? 1 : 0);
    });
    statusGauge('ringkv_member_ownership_ratio', 'Share of the ring the member owns, 0..1.', ['member'], (g, s) => {
      for (const m of s.members) g.set({ member: m.id }, m.ownership);
    });
    statusGauge('ringkv_members', 'Members each observer sees in each liveness status.', ['observer', 'status'], (g, s) => {
      for (const [observer, counts] of livenessCounts(s)) {
        for (const status of LIVENESS_STATUSES) g.set({ observer, status }, counts.get(status) ?? 0);
      }
    });
    const dropped = this.dropped;
    statusGauge('ringkv_member_liveness', 'State set: 1 for the liveness status observer sees member in, 0 for the others.', ['observer', 'member', 'status'], (g, s) => {
      let pairs = 0;
      for (const m of s.members) {
        for (const [observer, seen] of Object.entries(m.seenBy)) {
          if (++pairs > METRICS_LIVENESS_PAIRS_MAX) {
            dropped.inc({ metric: 'ringkv_member_liveness' });
            return;
          }
          for (const status of LIVENESS_STATUSES) g.set({ observer, member: m.id, status }, seen === status ? 1 : 0);
        }
      }
    });
    statusGauge('ringkv_hints_pending', 'Hints the node holds for other owners.', ['node'], (g, s) => {
      for (const m of s.members) if (m.hintsHeld !== null) g.set({ node: m.id }, m.hintsHeld);
    });
    statusGauge('ringkv_node_storage_failed', 'Whether the node\'s storage is failed (1: it serves no data and coordinators treat it as down; see its log and /status for the cause) or works (0).', ['node'], (g, s) => {
      for (const m of s.members) if (m.storage) g.set({ node: m.id }, m.storage.state === 'failed' ? 1 : 0);
    });
    statusGauge('ringkv_anti_entropy_groups_out_of_sync', 'Replica groups of the node whose last anti-entropy exchange with some peer found a difference, failed, or never ran.', ['node'], (g, s) => {
      for (const m of s.members) if (m.antiEntropy) g.set({ node: m.id }, m.antiEntropy.groupsOutOfSync);
    });
    statusGauge('ringkv_anti_entropy_oldest_exchange_age_seconds', 'Longest any (replica group, peer) pair of the node has gone without a completed anti-entropy exchange.', ['node'], (g, s) => {
      for (const m of s.members) if (m.antiEntropy) g.set({ node: m.id }, m.antiEntropy.oldestExchangeAgeMs / 1000);
    });
    statusGauge('ringkv_anti_entropy_tree_bytes', 'Memory of the node\'s anti-entropy hash trees.', ['node'], (g, s) => {
      for (const m of s.members) if (m.antiEntropy) g.set({ node: m.id }, m.antiEntropy.treeBytes);
    });
    statusGauge('ringkv_peer_link_up', 'Whether this process\'s link to a peer process is connected and authenticated (1) or not (0); multi-process clusters only.', ['peer'], (g, s) => {
      for (const link of s.links?.links ?? []) g.set({ peer: link.process ?? link.address }, link.connected ? 1 : 0);
    });
    statusGauge('ringkv_membership_change_in_progress', 'Whether a membership change (join, decommission, remove, replace) is running (1) or not (0).', [], (g, s) => {
      if (s.membership !== undefined) g.set(s.membership === null ? 0 : 1);
    });
    statusGauge('ringkv_membership_transfers', 'Transfers of the membership change in progress, by state.', ['state'], (g, s) => {
      for (const state of ['not started', 'waiting', 'running', 'verified', 'failed'] as const) g.set({ state }, s.membership?.transfers.filter((t) => t.state === state).length ?? 0);
    });
    statusGauge('ringkv_membership_transfer_bytes', 'Bytes the transfers of the membership change in progress have moved (listings and values).', [], (g, s) => {
      g.set(s.membership?.transfers.reduce((sum, t) => sum + t.bytes, 0) ?? 0);
    });
    statusGauge('ringkv_membership_transfer_rate_bytes_per_second', 'Rate of the transfers of the membership change in progress, summed.', [], (g, s) => {
      g.set(s.membership?.transfers.reduce((sum, t) => sum + t.bytesPerSecond, 0) ?? 0);
    });
    statusGauge('ringkv_keys_estimate', 'Live keys the node\'s replica holds (not deleted, each once; a background scan at most a second old while writes come in).', ['node'], (g, s) => {
      for (const m of s.members) if (m.keysEstimate !== null) g.set({ node: m.id }, m.keysEstimate);
    });
  }
}

/** Per observer: how many members it sees in each status. */
function livenessCounts(status: ClusterStatus): Map<string, Map<LivenessStatus, number>> {
  const byObserver = new Map<string, Map<LivenessStatus, number>>();
  for (const member of status.members) {
    for (const [observer, seen] of Object.entries(member.seenBy)) {
      let counts = byObserver.get(observer);
      if (!counts) byObserver.set(observer, (counts = new Map()));
      counts.set(seen, (counts.get(seen) ?? 0) + 1);
    }
  }
  return byObserver;
}

/** `count`, asserted to be a non-negative integer. */
function checkCount(count: number): number {
  assert(Number.isSafeInteger(count) && count >= 0, 'a reported count is a non-negative integer');
  return count;
}

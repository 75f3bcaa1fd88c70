/**
 * ServerMetrics: request series, cluster event series, scrape-time status
 * gauges through the status cache (one fetch per period however many
 * scrapes, failures and timeouts reported, not thrown), label bounds, and
 * separate registries per instance. Every exposition is parsed strictly.
 */
import { expect } from 'chai';
import { METRICS_COMMANDS_MAX, METRICS_PHI_PAIRS_MAX } from '../../src/core/limits.js';
import { UnavailableError } from '../../src/core/errors.js';
import { ServerMetrics } from '../../src/server/metrics.js';
import { FAKE_PHI_ALIVE, FAKE_PHI_DOWN, FakeCluster } from './fake_cluster.js';
import { parseExposition, sampleValue, type Exposition } from './prometheus_text.js';
import type { AntiEntropyStatus } from '../../src/cluster/cluster_types.js';

/** Scrape `metrics` and parse the text (throws on any malformed line). */
async function scrape(metrics: ServerMetrics): Promise<Exposition> {
  return parseExposition(await metrics.text());
}

describe('server/metrics', () => {
  it('counts requests by surface, command and outcome, with a latency histogram', async () => {
    const metrics = new ServerMetrics({ defaultMetrics: false });
    metrics.request('http', 'kv.get', 0.002, 'ok');
    metrics.request('http', 'kv.get', 0.004, 'ok');
    metrics.request('http', 'kv.get', 0.5, 'error');
    metrics.request('resp', 'SET', 0.0001, 'ok');
    const exp = await scrape(metrics);
    expect(exp.types.get('ringkv_requests_total')).to.equal('counter');
    expect(exp.types.get('ringkv_request_duration_seconds')).to.equal('histogram');
    expect(sampleValue(exp, 'ringkv_requests_total', { surface: 'http', command: 'kv.get', outcome: 'ok' })).to.equal(2);
    expect(sampleValue(exp, 'ringkv_requests_total', { surface: 'http', command: 'kv.get', outcome: 'error' })).to.equal(1);
    expect(sampleValue(exp, 'ringkv_requests_total', { surface: 'resp', command: 'SET', outcome: 'ok' })).to.equal(1);
    expect(sampleValue(exp, 'ringkv_request_duration_seconds_count', { surface: 'http', command: 'kv.get' })).to.equal(3);
    expect(sampleValue(exp, 'ringkv_request_duration_seconds_bucket', { surface: 'http', command: 'kv.get', le: '0.005' })).to.equal(2);
    expect(sampleValue(exp, 'ringkv_request_duration_seconds_bucket', { surface: 'http', command: 'kv.get', le: '+Inf' })).to.equal(3);
    expect(sampleValue(exp, 'ringkv_request_duration_seconds_sum', { surface: 'http', command: 'kv.get' })).to.be.closeTo(0.506, 1e-9);
    expect(metrics.contentType).to.match(/^text\/plain; version=0\.0\.4/);
  });

  it('counts cluster events and sets phi per observer and peer', async () => {
    const metrics = new ServerMetrics({ defaultMetrics: false });
    metrics.replicaAcks(3);
    metrics.replicaAcks(2);
    metrics.readRepairs(1);
    metrics.siblingsReturned(1);
    metrics.siblingsReturned(3);
    metrics.hintsStored(4);
    metrics.hintsReplayed(3);
    metrics.compactions(1);
    metrics.setPhi('n1', 'n2', 0.5);
    metrics.setPhi('n1', 'n2', 9.25);
    metrics.setPhi('n2', 'n1', Infinity);
    const exp = await scrape(metrics);
    expect(sampleValue(exp, 'ringkv_replica_acks_total')).to.equal(5);
    expect(sampleValue(exp, 'ringkv_read_repairs_total')).to.equal(1);
    expect(sampleValue(exp, 'ringkv_siblings_returned_count')).to.equal(2);
    expect(sampleValue(exp, 'ringkv_siblings_returned_bucket', { le: '1' })).to.equal(1);
    expect(sampleValue(exp, 'ringkv_siblings_returned_bucket', { le: '3' })).to.equal(2);
    expect(sampleValue(exp, 'ringkv_hints_stored_total')).to.equal(4);
    expect(sampleValue(exp, 'ringkv_hints_replayed_total')).to.equal(3);
    expect(sampleValue(exp, 'ringkv_compactions_total')).to.equal(1);
    expect(sampleValue(exp, 'ringkv_phi', { observer: 'n1', peer: 'n2' })).to.equal(9.25);
    expect(sampleValue(exp, 'ringkv_phi', { observer: 'n2', peer: 'n1' })).to.equal(Infinity);
    expect(() => metrics.replicaAcks(-1)).to.throw(/non-negative integer/);
    expect(() => metrics.setPhi('n1', 'n2', NaN)).to.throw(/phi/);
  });

  it('shows the cluster status at scrape time: members, liveness per observer, hints, keys', async () => {
    const cluster = new FakeCluster({ nodes: 3, n: 3 });
    await cluster.put('a', '1');
    const metrics = new ServerMetrics({ cluster, defaultMetrics: false, statusCacheMs: 0 });
    let exp = await scrape(metrics);
    expect(sampleValue(exp, 'ringkv_cluster_status_up')).to.equal(1);
    expect(sampleValue(exp, 'ringkv_cluster_members')).to.equal(3);
    expect(sampleValue(exp, 'ringkv_member_running', { member: 'n2' })).to.equal(1);
    expect(sampleValue(exp, 'ringkv_member_ownership_ratio', { member: 'n1' })).to.be.closeTo(1 / 3, 1e-12);
    expect(sampleValue(exp, 'ringkv_members', { observer: 'n1', status: 'alive' })).to.equal(3);
    expect(sampleValue(exp, 'ringkv_member_liveness', { observer: 'n1', member: 'n2', status: 'alive' })).to.equal(1);
    expect(sampleValue(exp, 'ringkv_member_liveness', { observer: 'n1', member: 'n2', status: 'down' })).to.equal(0);
    expect(sampleValue(exp, 'ringkv_hints_pending', { node: 'n3' })).to.equal(0);
    expect(sampleValue(exp, 'ringkv_keys_estimate', { node: 'n1' })).to.equal(1);

    await cluster.crash('n2');
    exp = await scrape(metrics);
    expect(sampleValue(exp, 'ringkv_member_running', { member: 'n2' })).to.equal(0);
    expect(sampleValue(exp, 'ringkv_member_liveness', { observer: 'n1', member: 'n2', status: 'down' })).to.equal(1);
    expect(sampleValue(exp, 'ringkv_members', { observer: 'n3', status: 'down' })).to.equal(1);
    // n2 observes nothing while crashed, and its hint and key counts are unknown: those series disappear.
    expect(exp.samples.filter((s) => s.name === 'ringkv_member_liveness' && s.labels['observer'] === 'n2')).to.have.length(0);
    expect(exp.samples.filter((s) => s.name === 'ringkv_hints_pending' && s.labels['node'] === 'n2')).to.have.length(0);
  });

  it('shows each node\'s anti-entropy: exchanges by outcome, keys repaired and bytes as counter increments; groups out of sync, oldest exchange and tree memory as gauges', async () => {
    const cluster = new FakeCluster({ nodes: 3, n: 3 });
    let now_ms = 0;
    const metrics = new ServerMetrics({ cluster, defaultMetrics: false, nowMs: () => now_ms, statusCacheMs: 1000 });
    const ae = (inSync: number, keys: number, oldestMs: number): AntiEntropyStatus => ({
      exchanges: { 'in-sync': inSync, diverged: 2, 'full-sync': 0, aborted: 1 },
      keysRepaired: keys,
      bytesSent: 1000,
      bytesFetched: 5000,
      groups: 1,
      groupsOutOfSync: keys > 0 ? 1 : 0,
      oldestExchangeAgeMs: oldestMs,
      treeBytes: 8328,
      treeKeys: 10,
      treesReady: true,
    });
    cluster.nodeAntiEntropy['n1'] = ae(3, 7, 2500);
    cluster.nodeAntiEntropy['n2'] = ae(1, 0, 500);
    let exp = await scrape(metrics);
    expect(sampleValue(exp, 'ringkv_anti_entropy_exchanges_total', { outcome: 'in-sync' })).to.equal(4);
    expect(sampleValue(exp, 'ringkv_anti_entropy_exchanges_total', { outcome: 'aborted' })).to.equal(2);
    expect(sampleValue(exp, 'ringkv_anti_entropy_keys_repaired_total')).to.equal(7);
    expect(sampleValue(exp, 'ringkv_anti_entropy_bytes_total', { direction: 'fetched' })).to.equal(10_000);
    expect(sampleValue(exp, 'ringkv_anti_entropy_groups_out_of_sync', { node: 'n1' })).to.equal(1);
    expect(sampleValue(exp, 'ringkv_anti_entropy_oldest_exchange_age_seconds', { node: 'n1' })).to.equal(2.5);
    expect(sampleValue(exp, 'ringkv_anti_entropy_tree_bytes', { node: 'n2' })).to.equal(8328);
    expect(exp.samples.filter((s) => s.name === 'ringkv_anti_entropy_tree_bytes' && s.labels['node'] === 'n3'), 'no anti-entropy, no series').to.have.length(0);
    cluster.nodeAntiEntropy['n1'] = ae(5, 9, 100);
    now_ms += 2000;
    exp = await scrape(metrics);
    expect(sampleValue(exp, 'ringkv_anti_entropy_exchanges_total', { outcome: 'in-sync' })).to.equal(6);
    expect(sampleValue(exp, 'ringkv_anti_entropy_keys_repaired_total')).to.equal(9);
    expect(sampleValue(exp, 'ringkv_anti_entropy_oldest_exchange_age_seconds', { node: 'n1' })).to.equal(0.1);
  });

  it('turns each node\'s cumulative counters from status into counter increments (restarts included) and sets phi per pair', async () => {
    const cluster = new FakeCluster({ nodes: 3, n: 3 });
    let now_ms = 0;
    const metrics = new ServerMetrics({ cluster, defaultMetrics: false, nowMs: () => now_ms, statusCacheMs: 1000 });
    const totals = (exp: Exposition): number[] =>
      ['ringkv_read_repairs_total', 'ringkv_hints_stored_total', 'ringkv_hints_replayed_total', 'ringkv_compactions_total', 'ringkv_dot_conflicts_total'].map((name) => sampleValue(exp, name));
    const phiSeries = (exp: Exposition, observer: string) => exp.samples.filter((s) => s.name === 'ringkv_phi' && s.labels['observer'] === observer);

    cluster.nodeCounters['n1'] = { readRepairs: 2, hintsStored: 5, hintsReplayed: 1, compactions: 3, dotConflicts: 1 };
    cluster.nodeCounters['n2'] = { readRepairs: 0, hintsStored: 1, hintsReplayed: 0, compactions: 1, dotConflicts: 0 };
    let exp = await scrape(metrics);
    expect(totals(exp), 'first sample: the totals so far').to.deep.equal([2, 6, 1, 4, 1]);
    expect(exp.samples.filter((s) => s.name === 'ringkv_phi')).to.have.length(6);
    expect(sampleValue(exp, 'ringkv_phi', { observer: 'n1', peer: 'n2' })).to.equal(FAKE_PHI_ALIVE);

    // Between two scrapes n1 stores 4 more hints and n2 finishes 3 more compactions.
    cluster.nodeCounters['n1'] = { readRepairs: 2, hintsStored: 9, hintsReplayed: 1, compactions: 3, dotConflicts: 1 };
    cluster.nodeCounters['n2'] = { readRepairs: 0, hintsStored: 1, hintsReplayed: 0, compactions: 4, dotConflicts: 2 };
    now_ms = 1000;
    exp = await scrape(metrics);
    expect(totals(exp), 'only the increments are added').to.deep.equal([2, 10, 1, 7, 3]);

    // n2 crashes: it reports nothing, its counters add nothing, its phi series go, and the others rate it down.
    await cluster.crash('n2');
    cluster.nodeCounters['n1'] = { readRepairs: 3, hintsStored: 12, hintsReplayed: 1, compactions: 3, dotConflicts: 1 };
    now_ms = 2000;
    exp = await scrape(metrics);
    expect(totals(exp)).to.deep.equal([3, 13, 1, 7, 3]);
    expect(phiSeries(exp, 'n2')).to.have.length(0);
    expect(sampleValue(exp, 'ringkv_phi', { observer: 'n1', peer: 'n2' })).to.equal(FAKE_PHI_DOWN);
    expect(sampleValue(exp, 'ringkv_phi', { observer: 'n3', peer: 'n1' })).to.equal(FAKE_PHI_ALIVE);

    // n2 restarts and counts again from 0: 2 compactions, fewer than the 4 last seen, count in full.
    await cluster.restart('n2');
    cluster.nodeCounters['n2'] = { readRepairs: 0, hintsStored: 0, hintsReplayed: 2, compactions: 2, dotConflicts: 1 };
    now_ms = 3000;
    exp = await scrape(metrics);
    expect(totals(exp), 'a restarted node\'s counts are added in full').to.deep.equal([3, 13, 3, 9, 4]);
    expect(phiSeries(exp, 'n2').map((s) => s.labels['peer']).sort()).to.deep.equal(['n1', 'n3']);
    expect(sampleValue(exp, 'ringkv_phi', { observer: 'n1', peer: 'n2' })).to.equal(FAKE_PHI_ALIVE);
  });

  it('asks the cluster for its status once per cache period however many scrapes arrive', async () => {
    const cluster = new FakeCluster({ nodes: 3 });
    let now_ms = 0;
    const metrics = new ServerMetrics({ cluster, defaultMetrics: false, nowMs: () => now_ms, statusCacheMs: 1000 });
    await Promise.all(Array.from({ length: 20 }, () => metrics.text()));
    expect(cluster.calls.status).to.equal(1);
    now_ms = 999;
    await metrics.text();
    expect(cluster.calls.status).to.equal(1);
    now_ms = 1000;
    const exp = await scrape(metrics);
    expect(cluster.calls.status).to.equal(2);
    expect(sampleValue(exp, 'ringkv_cluster_status_fetches_total', { outcome: 'ok' })).to.equal(2);
  });

  it('reports a failed or slow status fetch as status down instead of failing the scrape', async () => {
    const cluster = new FakeCluster({ nodes: 3 });
    let now_ms = 0;
    const metrics = new ServerMetrics({ cluster, defaultMetrics: false, nowMs: () => now_ms, statusCacheMs: 1000, statusTimeoutMs: 50 });
    cluster.failWith(new UnavailableError(0, 1), ['status']);
    let exp = await scrape(metrics);
    expect(sampleValue(exp, 'ringkv_cluster_status_up')).to.equal(0);
    expect(sampleValue(exp, 'ringkv_cluster_status_fetches_total', { outcome: 'error' })).to.equal(1);
    expect(exp.samples.filter((s) => s.name === 'ringkv_member_running')).to.have.length(0);

    cluster.failWith(null);
    cluster.latencyMs = 500;
    now_ms = 1000;
    const started = performance.now();
    exp = await scrape(metrics);
    expect(performance.now() - started).to.be.below(400);
    expect(sampleValue(exp, 'ringkv_cluster_status_up')).to.equal(0);
    expect(sampleValue(exp, 'ringkv_cluster_status_fetches_total', { outcome: 'error' })).to.equal(2);

    cluster.latencyMs = 0;
    now_ms = 2000;
    exp = await scrape(metrics);
    expect(sampleValue(exp, 'ringkv_cluster_status_up')).to.equal(1);
    expect(sampleValue(exp, 'ringkv_cluster_members')).to.equal(3);
  });

  it('bounds command labels and phi pairs, counting what it drops', async () => {
    const metrics = new ServerMetrics({ defaultMetrics: false });
    metrics.request('resp', 'NOT A COMMAND\n', 0.001, 'error');
    for (let i = 0; i < METRICS_COMMANDS_MAX + 10; i++) metrics.request('resp', `CMD${i}`, 0.001, 'error');
    for (let i = 0; i < METRICS_PHI_PAIRS_MAX + 3; i++) metrics.setPhi('n1', `p${i}`, 1);
    const exp = await scrape(metrics);
    const commands = new Set(exp.samples.filter((s) => s.name === 'ringkv_requests_total').map((s) => s.labels['command']));
    expect(commands.size).to.equal(METRICS_COMMANDS_MAX + 1); // the bound plus "other"
    expect(sampleValue(exp, 'ringkv_requests_total', { command: 'other' })).to.equal(11);
    expect(sampleValue(exp, 'ringkv_metrics_dropped_total', { metric: 'ringkv_requests_total' })).to.equal(10);
    expect(exp.samples.filter((s) => s.name === 'ringkv_phi')).to.have.length(METRICS_PHI_PAIRS_MAX);
    expect(sampleValue(exp, 'ringkv_metrics_dropped_total', { metric: 'ringkv_phi' })).to.equal(3);
  });

  it('keeps each instance in its own registry, default process series included', async () => {
    const first = new ServerMetrics();
    const second = new ServerMetrics();
    first.request('http', 'status', 0.001, 'ok');
    const [a, b] = await Promise.all([scrape(first), scrape(second)]);
    expect(sampleValue(a, 'ringkv_requests_total', { command: 'status' })).to.equal(1);
    expect(b.samples.filter((s) => s.name === 'ringkv_requests_total')).to.have.length(0);
    expect(a.types.has('process_cpu_user_seconds_total')).to.equal(true);
  });
});

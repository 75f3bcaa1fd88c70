/**
 * GET/HEAD /health and /ready over the FakeCluster on a loopback port:
 * healthy and ready, ready lost when too few nodes can serve while health
 * stays, health lost when no node runs, 503 when the status cannot be read
 * or takes too long, and one status request per cache period under a
 * probe storm; and against a real 3-node cluster, ready lost when two of
 * its node threads are crashed. (The verdicts themselves:
 * probe_verdicts.test.ts.)
 */
import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { InvalidRequestError } from '../../src/core/errors.js';
import { startHttpServer, type HttpServerHandle } from '../../src/server/http_server.js';
import { startServer } from '../../src/server/start.js';
import { FakeCluster } from './fake_cluster.js';

type ProbeBody = { ok: boolean; reason: string };

describe('server/http probes /health and /ready', function () {
  this.timeout(10_000);
  let cluster: FakeCluster;
  let server: HttpServerHandle;
  const url = (path: string): string => `http://127.0.0.1:${server.port}${path}`;
  const probe = async (path: string): Promise<{ status: number; body: ProbeBody }> => {
    const res = await fetch(url(path));
    expect(res.headers.get('cache-control')).to.equal('no-store');
    return { status: res.status, body: (await res.json()) as ProbeBody };
  };

  afterEach(async () => {
    await server.close();
  });

  describe('with every probe reading a fresh status', () => {
    beforeEach(async () => {
      cluster = new FakeCluster({ nodes: 5, n: 3 });
      server = await startHttpServer({ cluster, port: 0, limits: { probeStatusCacheMs: 0, probeStatusTimeoutMs: 300 } });
    });

    it('answers 200 with the reason (no password set), to GET and HEAD', async () => {
      expect(await probe('/health')).to.deep.equal({ status: 200, body: { ok: true, reason: '5 node thread(s) answer' } });
      expect(await probe('/ready')).to.deep.equal({
        status: 200,
        body: { ok: true, reason: 'W=quorum (2) and R=quorum (2) can be met (sloppy quorum): 5 of 5 nodes can serve' },
      });
      for (const path of ['/health', '/ready']) {
        const head = await fetch(url(path), { method: 'HEAD' });
        expect(head.status).to.equal(200);
        expect(await head.text()).to.equal('');
      }
      expect((await fetch(url('/ready'), { method: 'PUT', body: 'x' })).status).to.equal(405);
    });

    it('stays ready while enough nodes serve, turns 503 when too few do, and health stays 200 until no node runs', async () => {
      await cluster.crash('n1');
      await cluster.crash('n2');
      await cluster.crash('n3');
      expect((await probe('/ready')).status, 'sloppy quorum: 2 nodes are enough for W=R=2').to.equal(200);
      await cluster.crash('n4');
      const notReady = await probe('/ready');
      expect(notReady.status).to.equal(503);
      expect(notReady.body.ok).to.equal(false);
      expect(notReady.body.reason).to.match(/^W=quorum \(2\) needs 2 node\(s\) that can serve; 1 can; R=quorum \(2\) needs 2 .*cannot serve: n1 \(stopped\), n2 \(stopped\), n3 \(stopped\), n4 \(stopped\)$/);
      expect(await probe('/health')).to.deep.equal({ status: 200, body: { ok: true, reason: '1 node thread(s) answer; 4 node(s) stopped' } });
      await cluster.crash('n5');
      expect(await probe('/health')).to.deep.equal({ status: 503, body: { ok: false, reason: 'no node is running' } });
      await cluster.restart('n1');
      await cluster.restart('n2');
      expect((await probe('/ready')).status).to.equal(200);
      expect((await probe('/health')).status).to.equal(200);
    });

    it('answers 503 when the status cannot be read, or not within the probe deadline', async () => {
      cluster.failWith(new InvalidRequestError('this cluster is closed; open it again with openCluster'), ['status']);
      for (const path of ['/health', '/ready']) {
        const failed = await probe(path);
        expect(failed.status).to.equal(503);
        expect(failed.body.reason).to.equal("the cluster's status could not be read: invalid request: this cluster is closed; open it again with openCluster");
      }
      cluster.failWith(null);
      cluster.latencyMs = 2_000;
      const slow = await probe('/health');
      expect(slow.status).to.equal(503);
      expect(slow.body.reason).to.match(/^the cluster's status could not be read: .*cluster status for a \/health or \/ready probe.*300 ms/);
    });
  });

  it('asks the cluster once per cache period however many probes arrive', async () => {
    cluster = new FakeCluster({ nodes: 3, n: 3 });
    server = await startHttpServer({ cluster, port: 0, limits: { probeStatusCacheMs: 60_000 } });
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => fetch(url(i % 2 === 0 ? '/health' : '/ready'))));
    expect(answers.map((res) => res.status)).to.deep.equal(Array.from({ length: 20 }, () => 200));
    expect(cluster.calls.status).to.equal(1);
  });
});

describe('server/http probes against a real cluster', function () {
  this.timeout(60_000);

  it('is healthy and ready, and not ready once two of three nodes crash (health stays)', async () => {
    const dir = await mkdtemp(join(os.tmpdir(), 'ringkv-probes-'));
    const server = await startServer({ nodes: 3, dataDir: dir, respPort: 0, httpPort: 0, httpLimits: { probeStatusCacheMs: 0 } });
    try {
      const base = `http://127.0.0.1:${server.http.port}`;
      const probe = async (path: string): Promise<{ status: number; body: ProbeBody }> => {
        const res = await fetch(`${base}${path}`);
        return { status: res.status, body: (await res.json()) as ProbeBody };
      };
      expect(await probe('/health')).to.deep.equal({ status: 200, body: { ok: true, reason: '3 node thread(s) answer' } });
      expect((await probe('/ready')).status).to.equal(200);
      await server.cluster.crash('n2');
      expect((await probe('/ready')).status, 'W=R=2 of 3: one crash leaves it ready').to.equal(200);
      await server.cluster.crash('n3');
      const notReady = await probe('/ready');
      expect(notReady.status).to.equal(503);
      expect(notReady.body.reason).to.match(/^W=2 needs 2 node\(s\) that can serve; 1 can; .*cannot serve: n2 \(stopped\), n3 \(stopped\)$/);
      expect(await probe('/health')).to.deep.equal({ status: 200, body: { ok: true, reason: '1 node thread(s) answer; 2 node(s) stopped' } });
    } finally {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

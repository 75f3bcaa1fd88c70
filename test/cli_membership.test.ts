/**
 * `ringkv node ...` and `ringkv transfers` against a running server (issue
 * 16): the plan first, a refusal to commit without --yes when nobody can be
 * asked, the change followed to its end, errors that say what to do, and
 * the HTTP API's checks of a membership request.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, type RingkvServer } from '../src/index.js';

const CLI = fileURLToPath(new URL('../src/cli/cli.js', import.meta.url));

function cli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, RINGKV_PASSWORD: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('exit', (status) => done({ status, stdout, stderr }));
  });
}

describe('ringkv node and ringkv transfers', function () {
  this.timeout(120_000);
  let dir: string;
  let server: RingkvServer;
  let http: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ringkv-cli-membership-'));
    server = await startServer({ nodes: 3, dataDir: dir, respPort: 0, httpPort: 0, threads: 1 });
    http = `http://127.0.0.1:${server.http.port}`;
    await server.cluster.putMany(Array.from({ length: 500 }, (_, i) => ({ key: `k${i}`, value: `v${i}` })));
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('node add --dry-run prints the plan and changes nothing', async () => {
    const run = await cli(['node', 'add', 'n4', '--http', http, '--dry-run']);
    expect(run.status, run.stderr).to.equal(0);
    expect(run.stdout).to.match(/^plan: join n4\n/).and.match(/moves \d+\.\d% of all copies/).and.match(/n4 +- -> +\d+\.\d%/).and.match(/n4 +<- n\d/);
    expect(server.cluster.nodes).to.deep.equal(['n1', 'n2', 'n3']);
  });

  it('without --yes and no terminal to ask: not committed, exit 1, saying to pass --yes', async () => {
    const run = await cli(['node', 'add', 'n4', '--http', http]);
    expect(run.status).to.equal(1);
    expect(run.stderr).to.match(/pass --yes/);
    expect(server.cluster.nodes).to.have.length(3);
  });

  it('node add --yes commits and follows the transfers to the end; transfers then shows none', async () => {
    const run = await cli(['node', 'add', 'n4', '--http', http, '--yes']);
    expect(run.status, run.stderr).to.equal(0);
    expect(run.stdout).to.match(/committed: the change runs in the server/).and.match(/done: the new ring is committed on every node \(ring version 3\)/);
    expect(server.cluster.nodes).to.deep.equal(['n1', 'n2', 'n3', 'n4']);
    const transfers = await cli(['transfers', '--http', http]);
    expect(transfers.stdout).to.equal('no membership change in progress (ring version 3)\n');
    const json = JSON.parse((await cli(['transfers', '--http', http, '--json'])).stdout) as { change: unknown; ringVersion: number };
    expect(json).to.deep.include({ change: null, ringVersion: 3 });
    for (let i = 0; i < 500; i += 50) expect((await server.cluster.get(`k${i}`)).values.map(String)).to.deep.equal([`v${i}`]);
  });

  it('errors say what to do: a member that exists, a running node removed, a malformed request', async () => {
    const again = await cli(['node', 'add', 'n4', '--http', http, '--yes']);
    expect(again.status).to.equal(1);
    expect(again.stderr).to.match(/n4 is already a member/);
    const remove = await cli(['node', 'remove', 'n2', '--http', http, '--yes']);
    expect(remove.status).to.equal(1);
    expect(remove.stderr).to.match(/n2 is running: remove takes a dead node/);
    const bad = await fetch(`${http}/membership`, { method: 'POST', body: '{"change": {"kind": "grow"}}' });
    expect(bad.status).to.equal(400);
    expect(await bad.text()).to.match(/change.kind is join, decommission, remove or replace/);
  });

  it('node decommission --yes --json: the node leaves and stops', async () => {
    const run = await cli(['node', 'decommission', 'n1', '--http', http, '--yes', '--json']);
    expect(run.status, run.stderr).to.equal(0);
    const report = JSON.parse(run.stdout) as { plan: { change: { kind: string } }; transfers: { change: unknown } };
    expect(report.plan.change.kind).to.equal('decommission');
    expect(report.transfers.change).to.equal(null);
    expect(server.cluster.nodes).to.deep.equal(['n2', 'n3', 'n4']);
    for (let i = 0; i < 500; i += 25) expect((await server.cluster.get(`k${i}`)).values.map(String)).to.deep.equal([`v${i}`]);
  });
});

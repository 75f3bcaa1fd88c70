/**
 * `ringkv status`, `ringkv explain` and `ringkv repair` against a server with a password
 * (they had no way to send one: every call answered 401), and the status
 * table's storage column (a node whose storage failed showed only as
 * running and alive).
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, type RingkvServer } from '../src/index.js';

const CLI = fileURLToPath(new URL('../src/cli/cli.js', import.meta.url));

/** Run the CLI to its end (asynchronously: the server answering it runs in this process). */
function cli(args: string[], env: Record<string, string> = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, RINGKV_PASSWORD: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('exit', (status) => done({ status, stdout, stderr }));
  });
}

describe('ringkv status and explain with a password', function () {
  this.timeout(60_000);
  let dir: string;
  let server: RingkvServer;
  let http: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ringkv-cli-status-'));
    server = await startServer({ nodes: 3, dataDir: dir, respPort: 0, httpPort: 0, password: 's3cret' });
    http = `http://127.0.0.1:${server.http.port}`;
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('without the password: exit 1, saying to pass it', async () => {
    const run = await cli(['status', '--http', http]);
    expect(run.status).to.equal(1);
    expect(run.stderr).to.match(/answered 401: the server has a password; pass it with --password or RINGKV_PASSWORD/);
  });

  it('with --password or RINGKV_PASSWORD: the table, with each node\'s storage', async () => {
    const run = await cli(['status', '--http', http, '--password', 's3cret']);
    expect(run.status, run.stderr).to.equal(0);
    expect(run.stdout).to.match(/member\s+dc\/rack\s+running\s+storage/);
    expect(run.stdout.split('\n').filter((l) => /^\s+n\d\s+\S+\s+yes\s+ok\s/.test(l))).to.have.length(3);
    const explain = await cli(['explain', 'k1', '--http', http], { RINGKV_PASSWORD: 's3cret' });
    expect(explain.status, explain.stderr).to.equal(0);
    expect(explain.stdout).to.match(/preference list: n\d, n\d, n\d/);
    expect(explain.stdout).to.match(/anti-entropy of its replica group n1,n2,n3:/);
  });

  it('ringkv repair: starts a pass on every node, follows it to the end, exit 0; explain then shows each pair exchanged', async () => {
    for (let i = 0; i < 20; i++) await server.cluster.put(`r${i}`, 'v');
    const run = await cli(['repair', '--http', http, '--password', 's3cret']);
    expect(run.status, run.stderr + run.stdout).to.equal(0);
    // 3 nodes, N = 3: one replica group, each node exchanges it with its 2 peers.
    expect(run.stdout).to.match(/repair: 6\/6 \(node, group, peer\) exchanges done, \d+ keys repaired\n/);
    expect(run.stdout).to.match(/repair pass complete/);
    const explain = await cli(['explain', 'r1', '--http', http, '--password', 's3cret']);
    const rows = explain.stdout.split('\n').filter((l) => /^ {2}n\d with n\d: last completed [\d.]+ s ago, last outcome (in-sync|diverged)$/.test(l));
    expect(rows, explain.stdout).to.have.length(6);
    const json = await cli(['repair', '--http', http, '--password', 's3cret', '--json']);
    expect(json.status, json.stderr).to.equal(0);
    const report = JSON.parse(json.stdout) as { running: boolean; nodes: Record<string, { pass: number } | null> };
    expect(report.running).to.equal(false);
    expect(Object.values(report.nodes).map((n) => n?.pass)).to.deep.equal([2, 2, 2]);
  });

  it('ringkv repair without the password: exit 1, saying to pass it', async () => {
    const run = await cli(['repair', '--http', http]);
    expect(run.status).to.equal(1);
    expect(run.stderr).to.match(/answered 401/);
  });
});

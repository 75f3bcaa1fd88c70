/**
 * `ringkv start` refuses what would lose data or fail every request, before
 * it serves anything (issue 13, items 1-3): a second server on one
 * --data-dir (before: both ran, the second's writes vanished), another
 * --nodes on a directory that holds data (before: 5 then 7 read nil for
 * some keys), and flags that cannot work together such as --w 4 --n 3
 * (before: it started, then refused every write). Each exits 1 with a
 * message saying what to do.
 */
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../src/cli/cli.js', import.meta.url));
const FREE_PORTS = ['--resp-port', '0', '--http-port', '0'];

/** `ringkv start` run to its end (a refused start exits at once). */
function startOnce(args: string[]): { status: number | null; stderr: string; stdout: string } {
  const run = spawnSync(process.execPath, [CLI, 'start', ...FREE_PORTS, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: run.status, stderr: run.stderr, stdout: run.stdout };
}

/** A running `ringkv start`; resolves once it serves. */
async function startServing(args: string[]): Promise<{ pid: number; stop: () => Promise<number | null> }> {
  const child = spawn(process.execPath, [CLI, 'start', ...FREE_PORTS, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  let out = '';
  child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  await new Promise<void>((done, fail) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('running;')) done();
    });
    void exited.then((code) => fail(new Error(`ringkv start exited with ${code} before serving:\n${out}`)));
  });
  return {
    pid: child.pid!,
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

describe('ringkv start and its data directory', function () {
  this.timeout(60_000);
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(os.tmpdir(), 'ringkv-cli-data-dir-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a second server on one --data-dir exits 1 naming the first one\'s pid; another --nodes later exits 1 saying what the directory holds', async () => {
    const first = await startServing(['--nodes', '3', '--data-dir', dir]);
    try {
      const second = startOnce(['--nodes', '3', '--data-dir', dir]);
      expect(second.status).to.equal(1);
      expect(second.stderr).to.contain(`ringkv start: data directory ${dir}: in use by process ${first.pid}`).and.contain(`kill ${first.pid}`);
      expect(second.stdout, 'it served nothing').to.not.contain('listening');
    } finally {
      expect(await first.stop()).to.equal(0);
    }
    const more = startOnce(['--nodes', '4', '--data-dir', dir]);
    expect(more.status).to.equal(1);
    expect(more.stderr).to.contain('nodes: it was created for 3 nodes (n1..n3); 4 were asked (n1..n4)').and.contain('ringkv start --nodes 3 --n 3');
    expect(existsSync(join(dir, 'n4'))).to.equal(false);
  });

  it('--w 4 --n 3 (and --r 4) exit 1 before anything starts, one line per problem', () => {
    const dataDir = join(dir, 'never');
    const run = startOnce(['--nodes', '3', '--n', '3', '--w', '4', '--r', '4', '--data-dir', dataDir]);
    expect(run.status).to.equal(1);
    const lines = run.stderr.trim().split('\n');
    expect(lines).to.have.length(3);
    expect(lines[0]).to.match(/^ringkv start: --w 4 is more than --n 3 replicas per key: a write could never gather 4 acknowledgements/);
    expect(lines[1]).to.match(/^ringkv start: --r 4 is more than --n 3 replicas per key/);
    expect(lines[2]).to.equal('ringkv start: nothing was started (2 problems); see ringkv start --help');
    expect(existsSync(dataDir), 'no data directory was made').to.equal(false);
  });

  it('--bind beyond loopback without --password exits 1 (protected mode); --protected-mode no or a password starts it', async () => {
    const dataDir = join(dir, 'open');
    const refused = startOnce(['--nodes', '1', '--bind', '0.0.0.0', '--data-dir', dataDir]);
    expect(refused.status).to.equal(1);
    expect(refused.stderr).to.match(/--bind 0\.0\.0\.0 without --password: protected mode refuses/);
    expect(refused.stderr).to.match(/--protected-mode no/);
    expect(existsSync(dataDir), 'no data directory was made').to.equal(false);
    const bad = startOnce(['--nodes', '1', '--protected-mode', 'maybe', '--data-dir', dataDir]);
    expect(bad.status).to.equal(1);
    expect(bad.stderr).to.match(/--protected-mode "maybe": expected yes or no/);
    const open = await startServing(['--nodes', '1', '--bind', '0.0.0.0', '--protected-mode', 'no', '--data-dir', dataDir]);
    expect(await open.stop()).to.equal(0);
    const guarded = await startServing(['--nodes', '1', '--bind', '0.0.0.0', '--password', 'secret', '--data-dir', dataDir]);
    expect(await guarded.stop()).to.equal(0);
  });
});

/**
 * `npm start` is the README's first command: a signal sent to it must stop
 * the server, not leave it running as an orphan that holds the ports
 * (issue 13, item 11). npm runs the script through `sh -c`; the script
 * `exec`s node so the server is the process npm forwards signals to, and a
 * server started by npm also follows its parent (npm killed with SIGKILL
 * cannot forward anything).
 *
 * `--ignore-scripts` skips the `prestart` build (the suite has built dist/
 * already); the `start` script itself still runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect } from 'chai';

const ROOT = resolve(import.meta.dirname, '..', '..');
const READY_TIMEOUT_MS = 60_000;

interface Started {
  npm: ChildProcess;
  httpPort: number;
  exited: Promise<number | null>;
  /** Everything npm and the server printed so far. */
  output: () => string;
}

/** `npm start` of a 1-node server; `group`: in a process group of its own (as a terminal's foreground job). */
async function npmStart(dataDir: string, group = false): Promise<Started> {
  const npm = spawn('npm', ['start', '--ignore-scripts', '--silent', '--', '--nodes', '1', '--resp-port', '0', '--http-port', '0', '--data-dir', dataDir], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: group,
  });
  const exited = new Promise<number | null>((done) => npm.once('exit', (code) => done(code)));
  let out = '';
  npm.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  const httpPort = await new Promise<number>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`npm start not ready in ${READY_TIMEOUT_MS} ms:\n${out}`)), READY_TIMEOUT_MS);
    npm.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      const m = /http listening on [^\s]+:(\d+)/.exec(out);
      if (m !== null && out.includes('running;')) {
        clearTimeout(timer);
        done(Number(m[1]));
      }
    });
    void exited.then((code) => fail(new Error(`npm start exited with ${code} before it was ready:\n${out}`)));
  });
  npm.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  return { npm, httpPort, exited, output: () => out };
}

/** Whether something accepts connections on the loopback port. */
function listening(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}

async function closedWithin(port: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!(await listening(port))) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

describe('npm start (the README command)', function () {
  this.timeout(120_000);
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ringkv-npm-start-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('SIGTERM to npm stops the server cleanly and frees its ports', async () => {
    const { npm, httpPort, exited } = await npmStart(dir);
    expect(await listening(httpPort)).to.equal(true);
    npm.kill('SIGTERM');
    await exited;
    expect(await closedWithin(httpPort, 15_000), 'the server still listens after npm exited').to.equal(true);
  });

  it('Ctrl-C (SIGINT to the whole process group: npm forwards it too) stops the server gracefully, not at once', async () => {
    const { npm, httpPort, exited, output } = await npmStart(dir, true);
    process.kill(-npm.pid!, 'SIGINT');
    await exited;
    expect(await closedWithin(httpPort, 15_000), 'the server still listens after npm exited').to.equal(true);
    await new Promise((r) => setTimeout(r, 200)); // the server's last lines
    expect(output()).to.contain('stopped cleanly');
    expect(output()).to.not.contain('exiting without finishing the shutdown');
  });

  it('SIGKILL to npm: the server notices its parent is gone and stops', async () => {
    const { npm, httpPort, exited } = await npmStart(dir);
    npm.kill('SIGKILL');
    await exited;
    expect(await closedWithin(httpPort, 15_000), 'the server still listens after npm was killed').to.equal(true);
  });
});

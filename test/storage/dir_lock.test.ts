/**
 * The data-directory lock (issue 13, item 1): a second opener is refused at
 * once naming the holder's pid; a lock left by a process that died (or
 * whose pid now names another process, or that ran in an earlier boot) is
 * taken over; openers racing for one stale lock end with exactly one
 * holder, in separate processes; a breaker that crashed mid-break is
 * broken in turn; release frees the directory.
 */
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataDirError } from '../../src/core/errors.js';
import { LOCK_FILE, lockDir, parseHolder, REAL_PROCESSES, type LockHolder, type ProcessProbe } from '../../storage/dir_lock.js';

const DIR_LOCK_MODULE = fileURLToPath(new URL('../../storage/dir_lock.js', import.meta.url));

/** The pid of a process that has exited (so, barring reuse within the test, no process has it). */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '']);
  return child.pid!;
}

/** A lock file as a holder would have written it. */
function holderOf(fields: Partial<LockHolder>): LockHolder {
  return {
    pid: process.pid,
    host: os.hostname(),
    boot_id: REAL_PROCESSES.bootId(),
    start_ticks: REAL_PROCESSES.startTicks(process.pid),
    since_ms: Date.now() - 60_000,
    token: 'ab'.repeat(16),
    ...fields,
  };
}

async function writeLock(dir: string, holder: LockHolder, name = LOCK_FILE): Promise<void> {
  await writeFile(join(dir, name), `${JSON.stringify(holder)}\n`);
}

async function refusal(promise: Promise<unknown>): Promise<DataDirError> {
  try {
    await promise;
  } catch (err) {
    expect(err).to.be.instanceOf(DataDirError);
    return err as DataDirError;
  }
  throw new Error('expected the lock to be refused');
}

describe('data directory lock', function () {
  this.timeout(30_000);
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(os.tmpdir(), 'ringkv-dir-lock-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a second opener at once, naming the holder pid; release frees it for the next', async () => {
    const first = await lockDir(dir);
    expect(parseHolder(await readFile(join(dir, LOCK_FILE), 'utf8'))?.token).to.equal(first.holder.token);
    const err = await refusal(lockDir(dir));
    expect(err.code).to.equal('DATA_DIR');
    expect(err.reason).to.equal('in-use');
    expect(err.holderPid).to.equal(process.pid);
    expect(err.message).to.contain(`pid ${process.pid}`).and.contain(dir).and.contain('close it first');
    await first.release();
    await first.release(); // twice is fine
    expect(existsSync(join(dir, LOCK_FILE))).to.equal(false);
    const second = await lockDir(dir);
    await second.release();
  });

  it('names another live process and says how to stop it', async () => {
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      await writeLock(dir, holderOf({ pid: other.pid!, start_ticks: REAL_PROCESSES.startTicks(other.pid!) }));
      const err = await refusal(lockDir(dir));
      expect(err.holderPid).to.equal(other.pid);
      expect(err.message).to.contain(`in use by process ${other.pid}`).and.contain(`kill ${other.pid}`);
    } finally {
      other.kill('SIGKILL');
    }
  });

  it('takes over a lock whose holder died, and cleans up what it left', async () => {
    const dead = deadPid();
    await writeLock(dir, holderOf({ pid: dead, start_ticks: null }));
    await writeFile(join(dir, `${LOCK_FILE}.tmp.${dead}.0011223344556677`), 'half-written');
    const lock = await lockDir(dir);
    const held = parseHolder(await readFile(join(dir, LOCK_FILE), 'utf8'));
    expect(held?.pid).to.equal(process.pid);
    expect(held?.token).to.equal(lock.holder.token);
    expect((await readdir(dir)).sort()).to.deep.equal([LOCK_FILE]);
    await lock.release();
  });

  it('takes over a lock whose pid now names another process (start time differs) or that is from an earlier boot', async function () {
    if (REAL_PROCESSES.startTicks(process.pid) === null) this.skip(); // no /proc: pid liveness only
    await writeLock(dir, holderOf({ start_ticks: REAL_PROCESSES.startTicks(process.pid)! - 1 }));
    const reused = await lockDir(dir);
    await reused.release();
    if (REAL_PROCESSES.bootId() === null) return;
    await writeLock(dir, holderOf({ boot_id: 'an-earlier-boot' }));
    const rebooted = await lockDir(dir);
    await rebooted.release();
  });

  it('refuses a holder on another host (it cannot be checked) and says how to clear it', async () => {
    await writeLock(dir, holderOf({ host: 'elsewhere.example', pid: 4242 }));
    const err = await refusal(lockDir(dir));
    expect(err.holderPid).to.equal(4242);
    expect(err.message).to.contain('host elsewhere.example').and.contain(`delete ${join(dir, LOCK_FILE)}`);
  });

  it('refuses a lock file that names no holder, with advice', async () => {
    await writeFile(join(dir, LOCK_FILE), 'not a lock');
    const err = await refusal(lockDir(dir));
    expect(err.reason).to.equal('unreadable-lock');
    expect(err.message).to.contain('delete it');
  });

  it('breaks the break file of a breaker that crashed mid-break, then the stale lock', async () => {
    const token = 'cd'.repeat(16);
    await writeLock(dir, holderOf({ pid: deadPid(), start_ticks: null, token }));
    await writeLock(dir, holderOf({ pid: deadPid(), start_ticks: null, token: 'ef'.repeat(16) }), `${LOCK_FILE}.break.${token}`);
    const lock = await lockDir(dir);
    expect((await readdir(dir)).sort()).to.deep.equal([LOCK_FILE]);
    await lock.release();
  });

  it('waits for a live breaker, and gives up with advice if it never finishes', async () => {
    const token = '12'.repeat(16);
    await writeLock(dir, holderOf({ pid: deadPid(), start_ticks: null, token }));
    await writeLock(dir, holderOf({ token: '34'.repeat(16) }), `${LOCK_FILE}.break.${token}`); // this process: alive
    const err = await refusal(lockDir(dir));
    expect(err.message).to.contain('attempts');
  });

  it('many concurrent openers in one process: exactly one holds it', async () => {
    await writeLock(dir, holderOf({ pid: deadPid(), start_ticks: null }));
    const outcomes = await Promise.allSettled(Array.from({ length: 12 }, () => lockDir(dir)));
    const held = outcomes.filter((o) => o.status === 'fulfilled');
    expect(held.length).to.equal(1);
    for (const o of outcomes) if (o.status === 'rejected') expect((o.reason as DataDirError).holderPid).to.equal(process.pid);
  });

  it('processes racing for one stale lock: exactly one holds it, the others name it', async function () {
    this.timeout(60_000);
    const rounds = 3;
    const racers = 6;
    for (let round = 0; round < rounds; round++) {
      await writeLock(dir, holderOf({ pid: deadPid(), start_ticks: null, token: `${round}`.repeat(32) }));
      // Each child waits for "go" on stdin so they start together, tries the lock, reports, and holds it until stdin closes.
      // Its judge of liveness takes 50 ms, so every racer reads the stale lock before any acts on it (the window of the race).
      const script =
        `const { lockDir, REAL_PROCESSES } = await import(${JSON.stringify(DIR_LOCK_MODULE)});` +
        'const slow = { ...REAL_PROCESSES, isRunning(pid) { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50); return REAL_PROCESSES.isRunning(pid); } };' +
        'process.stdin.once("data", async () => {' +
        ` try { const lock = await lockDir(${JSON.stringify(dir)}, slow); console.log("held " + process.pid);` +
        '  process.stdin.on("end", async () => { await lock.release(); process.exit(0); }); process.stdin.resume(); }' +
        ' catch (err) { console.log("refused " + (err.holderPid ?? err.message)); process.exit(0); } });';
      const children = Array.from({ length: racers }, () => spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] }));
      const exited = children.map((child) => new Promise((done) => child.once('exit', done)));
      const lines = children.map(
        (child) =>
          new Promise<string>((done) => {
            let out = '';
            child.stdout!.on('data', (chunk: Buffer) => {
              out += chunk.toString();
              if (out.includes('\n')) done(out.trim());
            });
          }),
      );
      await new Promise((r) => setTimeout(r, 300)); // let every child load
      for (const child of children) child.stdin!.write('go\n');
      const reports = await Promise.all(lines);
      const holders = reports.filter((r) => r.startsWith('held '));
      expect(holders.length, `round ${round}: ${reports.join('; ')}`).to.equal(1);
      const winner = holders[0]!.slice('held '.length);
      for (const r of reports.filter((line) => !line.startsWith('held '))) expect(r, `round ${round}`).to.equal(`refused ${winner}`);
      for (const child of children) child.stdin!.end();
      await Promise.all(exited);
      expect(existsSync(join(dir, LOCK_FILE)), 'released by the winner').to.equal(false);
    }
  });

  it('a probe decides liveness: a holder judged gone is taken over', async () => {
    const probe: ProcessProbe = { ...REAL_PROCESSES, isRunning: (pid) => pid !== 777 };
    await writeLock(dir, holderOf({ pid: 777, start_ticks: null }));
    const lock = await lockDir(dir, probe);
    expect(lock.holder.pid).to.equal(process.pid);
    await lock.release();
  });
});

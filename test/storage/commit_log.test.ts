import { expect } from 'chai';
import { mkdtempSync, readdirSync, rmSync, statSync, truncateSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FileHandle, FileSystem } from '../../storage/fs.js';
import { SimFileSystem } from '../../storage/sim_fs.js';
import { RealFileSystem, realTimers } from '../../storage/real_fs.js';
import {
  CommitLog,
  RECORD_HEADER_BYTES,
  SEGMENT_HEADER_BYTES,
  segmentFileName,
  type CommitLogOptions,
  type CommitLogTimers,
  type RecordPosition,
} from '../../storage/commit_log.js';
import { CorruptionError, InvalidRequestError } from '../../src/core/errors.js';
import { COMMITLOG_GROUP_MAX_RECORDS, COMMITLOG_RECORD_MAX_BYTES } from '../../src/core/limits.js';
import { checksum } from '../../src/core/hash.js';
import { encodeSegmentHeader } from '../../storage/commit_log_format.js';
import { Prng, seedFrom } from '../../src/core/prng.js';

const DIR = '/node/commitlog';
const BATCH: CommitLogOptions = { syncMode: 'batch' };

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const str = (b: Uint8Array): string => new TextDecoder().decode(b);

async function ticks(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await Promise.resolve();
}

/** Open and collect what replay yields. */
async function openCollect(
  fs: FileSystem,
  options: CommitLogOptions = BATCH,
  dir = DIR,
): Promise<{ log: CommitLog; records: Uint8Array[]; positions: RecordPosition[] }> {
  const records: Uint8Array[] = [];
  const positions: RecordPosition[] = [];
  const log = await CommitLog.open(fs, dir, options, (payload, position) => {
    records.push(payload);
    positions.push(position);
  });
  return { log, records, positions };
}

async function expectCorruption(promise: Promise<unknown>): Promise<CorruptionError> {
  try {
    await promise;
  } catch (err) {
    expect(err).to.be.instanceOf(CorruptionError);
    return err as CorruptionError;
  }
  return expect.fail('expected a CorruptionError');
}

/** A fresh simulated disk holding exactly `files`, all durable. */
async function diskWith(files: Map<string, Uint8Array>): Promise<SimFileSystem> {
  const fs = new SimFileSystem();
  await fs.mkdirp(DIR);
  for (const [path, content] of files) {
    const h = await fs.open(path, 'create');
    await h.append(content);
    await h.sync();
    await h.close();
  }
  await fs.syncDir(DIR);
  return fs;
}

async function snapshot(fs: SimFileSystem): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  for (const name of await fs.list(DIR)) files.set(`${DIR}/${name}`, await fs.readFile(`${DIR}/${name}`));
  return files;
}

describe('storage/commit_log: crashes', () => {
  it('replays every acknowledged append, in order, with no garbage, at thousands of seeded crash points', async () => {
    const seed = seedFrom(process.env['SEED'], Date.now());
    console.log(`      commit_log crash seed: SEED=${seed}`);
    const root = new Prng(seed);
    const ITERATIONS = 2500;
    const seen = { tornTails: 0, corruptTails: 0, unackedLost: 0, unackedSurvived: 0, crashedInOpen: 0, lives: 0 };
    for (let iteration = 0; iteration < ITERATIONS; iteration++) {
      const prng = root.fork();
      try {
        await crashIteration(prng, seen);
      } catch (err) {
        console.log(`      failed at iteration ${iteration} of SEED=${seed}`);
        throw err;
      }
    }
    console.log(`      ${JSON.stringify(seen)}`);
    // The workload must really reach the interesting cases, or the test proves little.
    expect(seen.tornTails).to.be.greaterThan(100);
    expect(seen.corruptTails, 'crashes flip bits in kept unsynced tails').to.be.greaterThan(50);
    expect(seen.unackedLost).to.be.greaterThan(100);
    expect(seen.unackedSurvived).to.be.greaterThan(100);
    expect(seen.crashedInOpen).to.be.greaterThan(50);
  });

  it('detects every single-bit flip: corruption in a closed segment or header, a corrupt tail cut at the damaged record of the last segment', async () => {
    const fs = new SimFileSystem();
    const { log } = await openCollect(fs, { syncMode: 'batch', segmentBytes: 90 });
    for (const payload of ['first', '', 'a somewhat longer third record', 'four', 'five!']) await log.append(text(payload));
    await log.close();
    const files = await snapshot(fs);
    expect(files.size, 'several segments, so flips hit non-last and last ones').to.be.greaterThan(2);
    const clean = await openCollect(await diskWith(files));
    await clean.log.close();
    const lastPath = [...files.keys()].sort().at(-1)!;
    const lastId = Math.max(...clean.positions.map((p) => p.segmentId));
    expect(recordStarts(files.get(lastPath)!).length, 'the last segment holds records').to.be.greaterThan(1);
    const seen = { corruption: 0, corruptTails: 0 };
    for (const [path, content] of files) {
      const starts = recordStarts(content);
      for (let bit = 0; bit < content.length * 8; bit++) {
        const where = `bit ${bit} of ${path}`;
        const disk = await diskWith(files);
        disk.flipBit(path, bit);
        const damagedAt = owningStart(starts, bit >> 3);
        if (path !== lastPath || damagedAt === 0) {
          // A closed segment was fully synced, and a header with records after it was synced before them.
          const err = await expectCorruption(openCollect(disk));
          expect([err.location, err.offset], where).to.deep.equal([path, damagedAt]);
          seen.corruption++;
          continue;
        }
        const { log: reopened, records } = await openCollect(disk);
        const before = clean.positions.filter((p) => p.segmentId < lastId || p.offset < damagedAt).length;
        expect(records.map(str), where).to.deep.equal(clean.records.slice(0, before).map(str));
        expect(reopened.recovery.corruptTail, where).to.deep.equal({ path, offset: damagedAt, droppedBytes: content.length - damagedAt });
        expect(reopened.recovery.tornTail, where).to.equal(null);
        await reopened.close();
        expect((await disk.readFile(path)).length, `${where}: truncated at the damaged record`).to.equal(damagedAt);
        seen.corruptTails++;
      }
    }
    expect(seen.corruption).to.be.greaterThan(1000);
    expect(seen.corruptTails).to.be.greaterThan(100);
  });

  it('cuts a corrupt tail of the last segment durably: later records dropped, a reopen after a power loss is clean', async () => {
    const fs = new SimFileSystem();
    const { log } = await openCollect(fs);
    for (const p of ['one', 'two', 'three', 'four']) await log.append(text(p));
    await log.close();
    const path = `${DIR}/${segmentFileName(1)}`;
    const content = await fs.readFile(path);
    const starts = recordStarts(content);
    const third = starts[3]!;
    fs.flipBit(path, (third + RECORD_HEADER_BYTES + 2) * 8 + 5); // inside 'three': its payload checksum fails
    const { log: reopened, records } = await openCollect(fs);
    expect(records.map(str), "'four' checks out but follows the damage: replay is a prefix").to.deep.equal(['one', 'two']);
    expect(reopened.recovery.corruptTail).to.deep.equal({ path, offset: third, droppedBytes: content.length - third });
    expect(reopened.recovery.tornTail).to.equal(null);
    await reopened.append(text('five'));
    await reopened.close();
    const again = await openCollect(fs.crash());
    expect(again.records.map(str)).to.deep.equal(['one', 'two', 'five']);
    expect(again.log.recovery).to.deep.include({ tornTail: null, corruptTail: null });
    await again.log.close();
  });

  it('treats a checksummed record length over COMMITLOG_RECORD_MAX_BYTES as a corrupt tail in the last segment, corruption elsewhere', async () => {
    const fs = new SimFileSystem();
    const { log } = await openCollect(fs);
    await log.append(text('kept'));
    await log.close();
    const path = `${DIR}/${segmentFileName(1)}`;
    const content = await fs.readFile(path);
    const huge = new Uint8Array(RECORD_HEADER_BYTES + 4);
    const view = new DataView(huge.buffer);
    view.setUint32(0, COMMITLOG_RECORD_MAX_BYTES + 1, true);
    view.setUint32(4, checksum(huge.subarray(0, 4)), true); // the length passes its checksum: only the bound catches it
    const withHuge = new Uint8Array([...content, ...huge]);
    const { log: reopened, records } = await openCollect(await diskWith(new Map([[path, withHuge]])));
    expect(records.map(str)).to.deep.equal(['kept']);
    expect(reopened.recovery.corruptTail).to.deep.equal({ path, offset: content.length, droppedBytes: huge.length });
    await reopened.close();
    // The same record in a segment that is not the last is corruption.
    const notLast = new Map([[path, withHuge], [`${DIR}/${segmentFileName(2)}`, encodeSegmentHeader(2)]]);
    const err = await expectCorruption(openCollect(await diskWith(notLast)));
    expect([err.location, err.offset]).to.deep.equal([path, content.length]);
    expect(err.message).to.match(/COMMITLOG_RECORD_MAX_BYTES/);
  });

  it('treats a crash during a segment roll (empty or half-written new segment) as a torn tail', async () => {
    for (const headerBytes of [0, 1, SEGMENT_HEADER_BYTES - 1]) {
      const fs = new SimFileSystem();
      const { log } = await openCollect(fs);
      await log.append(text('a'));
      await log.append(text('b'));
      await log.close();
      const files = await snapshot(fs);
      const header = [...files.values()][0]!.subarray(0, headerBytes);
      files.set(`${DIR}/${segmentFileName(2)}`, header);
      const { log: reopened, records } = await openCollect(await diskWith(files));
      expect(records.map(str)).to.deep.equal(['a', 'b']);
      expect(reopened.recovery.tornTail?.offset).to.equal(0);
      expect(reopened.segmentIds(), 'the half-made segment is gone, a fresh one follows').to.deep.equal([1, 3]);
      await reopened.close();
    }
    // A whole header with a flipped bit and nothing after it: a roll whose header fsync a crash cut short.
    const fs = new SimFileSystem();
    const { log } = await openCollect(fs);
    await log.append(text('a'));
    await log.close();
    const files = await snapshot(fs);
    const rotten = encodeSegmentHeader(2);
    rotten[9]! ^= 0x04;
    const rottenPath = `${DIR}/${segmentFileName(2)}`;
    const { log: reopened, records } = await openCollect(await diskWith(new Map(files).set(rottenPath, rotten)));
    expect(records.map(str)).to.deep.equal(['a']);
    expect(reopened.recovery.corruptTail).to.deep.equal({ path: rottenPath, offset: 0, droppedBytes: SEGMENT_HEADER_BYTES });
    expect(reopened.segmentIds()).to.deep.equal([1, 3]);
    await reopened.close();
  });

  it('reports a torn or truncated segment that is not the last as corruption', async () => {
    const fs = new SimFileSystem();
    const { log } = await openCollect(fs);
    await log.append(text('record one'));
    await log.rollSegment();
    await log.append(text('record two'));
    await log.close();
    const files = await snapshot(fs);
    const first = `${DIR}/${segmentFileName(1)}`;
    for (const cut of [1, RECORD_HEADER_BYTES + 3]) {
      const content = files.get(first)!;
      const torn = new Map(files).set(first, content.subarray(0, content.length - cut));
      const err = await expectCorruption(openCollect(await diskWith(torn)));
      expect([err.location, err.offset]).to.deep.equal([first, SEGMENT_HEADER_BYTES]);
    }
    const headerless = new Map(files).set(first, files.get(first)!.subarray(0, 7));
    expect((await expectCorruption(openCollect(await diskWith(headerless)))).offset).to.equal(0);
  });
});

/** Byte offsets where each record (and the header, at 0) of a segment starts. */
function recordStarts(segment: Uint8Array): number[] {
  const view = new DataView(segment.buffer, segment.byteOffset, segment.byteLength);
  const starts = [0];
  for (let at = SEGMENT_HEADER_BYTES; at < segment.length; at += RECORD_HEADER_BYTES + view.getUint32(at, true)) {
    starts.push(at);
  }
  return starts;
}

function owningStart(starts: number[], byte: number): number {
  return starts.filter((start) => start <= byte).pop()!;
}

interface CrashStats {
  tornTails: number;
  corruptTails: number;
  unackedLost: number;
  unackedSurvived: number;
  crashedInOpen: number;
  lives: number;
}

/**
 * Up to four process lives on one disk, each ending in a crash at a seeded
 * moment; some crashes flip a bit in the kept unsynced tail (torn sectors),
 * which recovery must cut off without losing anything acknowledged.
 */
async function crashIteration(prng: Prng, seen: CrashStats): Promise<void> {
  let fs = new SimFileSystem();
  const segmentBytes = prng.range(40, 400);
  // `history` is every record that may be in the log, in order; the first `mustHave` must be.
  let history: Uint8Array[] = [];
  let mustHave = 0;
  let serial = 0;
  for (let life = 0; life < 4; life++) {
    seen.lives++;
    const replayed: Uint8Array[] = [];
    let log: CommitLog | null = null;
    // Some lives run in periodic mode: acknowledged appends may then be lost, but never reordered or garbled.
    const timers = new ManualTimers();
    const periodic = prng.chance(0.3);
    const options: CommitLogOptions = periodic
      ? { syncMode: 'periodic', periodicSync_ms: 10, timers, segmentBytes }
      : { syncMode: 'batch', segmentBytes };
    let openError: unknown;
    const opening = CommitLog.open(fs, DIR, options, (payload) => replayed.push(payload)).then(
      (opened) => (log = opened),
      (err: unknown) => (openError = err),
    );
    if (prng.chance(0.15)) await ticks(prng.int(40));
    else await opening;
    // Before the crash below, nothing may fail the open: a corrupt tail is cut off, never refused.
    if (openError !== undefined) throw openError;
    if (log === null) {
      seen.crashedInOpen++;
      fs = fs.crash(prng, { flipProbability: 0.3 });
      continue;
    }
    const opened: CommitLog = log;
    expect(replayed.length, 'every acknowledged append is replayed').to.be.at.least(mustHave);
    expect(replayed.length).to.be.at.most(history.length);
    for (let i = 0; i < replayed.length; i++) {
      expect(replayed[i], `record ${i} is the one appended there`).to.deep.equal(history[i]);
    }
    if (opened.recovery.tornTail !== null) seen.tornTails++;
    if (opened.recovery.corruptTail) seen.corruptTails++;
    if (replayed.length > mustHave) seen.unackedSurvived++;
    if (replayed.length < history.length) seen.unackedLost++;
    history = replayed;
    mustHave = replayed.length;

    const acked: boolean[] = [];
    const base = history.length;
    const steps = prng.range(1, 30);
    for (let step = 0; step < steps; step++) {
      const roll = prng.next();
      if (roll < 0.6) {
        const payload = new Uint8Array(4 + prng.int(40));
        new DataView(payload.buffer).setUint32(0, serial++, true);
        prng.fill(payload.subarray(4));
        const index = history.length - base;
        history.push(payload);
        opened.append(payload).then(
          () => (acked[index] = true),
          () => undefined,
        );
      } else if (roll < 0.65) {
        opened.rollSegment().catch(() => undefined);
      } else if (periodic && roll < 0.75) {
        await timers.advance(10);
      } else {
        await ticks(prng.int(10));
      }
    }
    const closed = prng.chance(0.05);
    if (closed) await opened.close();
    else await ticks(prng.int(40));
    // Acknowledgements come in append order: they form a prefix of this life's appends.
    const ackedCount = acked.filter((a) => a).length;
    for (let i = 0; i < ackedCount; i++) expect(acked[i], 'acks in order').to.equal(true);
    if (closed) mustHave = history.length; // close waits for every append and fsyncs
    else if (!periodic) mustHave = base + ackedCount;
    fs = fs.crash(prng, { flipProbability: 0.3 });
  }
}

/** Wraps a file system so that `sync` on files waits while the gate is closed (a slow disk). */
class GatedFileSystem implements FileSystem {
  private gate: Promise<void> | null = null;
  private openGate: (() => void) | null = null;

  constructor(private readonly inner: FileSystem) {}

  close(): void {
    this.gate = new Promise((resolve) => (this.openGate = resolve));
  }

  release(): void {
    this.openGate?.();
    this.gate = null;
  }

  async open(path: string, mode: 'read' | 'append' | 'create'): Promise<FileHandle> {
    const handle = await this.inner.open(path, mode);
    const wrapper = Object.create(handle) as FileHandle;
    return Object.assign(wrapper, {
      path: handle.path,
      size: () => handle.size(),
      readSync: (offset: number, length: number) => handle.readSync(offset, length),
      append: (bytes: Uint8Array) => handle.append(bytes),
      truncate: (size: number) => handle.truncate(size),
      close: () => handle.close(),
      sync: async () => {
        if (this.gate !== null) await this.gate;
        await handle.sync();
      },
    });
  }
  readFile(path: string): Promise<Uint8Array> {
    return this.inner.readFile(path);
  }
  rename(from: string, to: string): Promise<void> {
    return this.inner.rename(from, to);
  }
  remove(path: string): Promise<void> {
    return this.inner.remove(path);
  }
  list(dir: string): Promise<string[]> {
    return this.inner.list(dir);
  }
  exists(path: string): Promise<boolean> {
    return this.inner.exists(path);
  }
  mkdirp(dir: string): Promise<void> {
    return this.inner.mkdirp(dir);
  }
  syncDir(dir: string): Promise<void> {
    return this.inner.syncDir(dir);
  }
}

describe('storage/commit_log: group commit', () => {
  it('coalesces appends issued in one turn into one write and one fsync', async () => {
    const fs = new SimFileSystem();
    const { log } = await openCollect(fs);
    const before = fs.stats();
    await Promise.all(Array.from({ length: 1000 }, (_, i) => log.append(text(`r${i}`))));
    const after = fs.stats();
    expect(after.syncs - before.syncs).to.equal(1);
    expect(after.appends - before.appends).to.equal(1);
    await log.close();
    expect((await openCollect(fs)).records.map(str)).to.deep.equal(Array.from({ length: 1000 }, (_, i) => `r${i}`));
  });

  it('gathers appends issued while an fsync is in flight into the next group (leader/follower)', async () => {
    const sim = new SimFileSystem();
    const fs = new GatedFileSystem(sim);
    const { log } = await openCollect(fs);
    const before = sim.stats();
    fs.close();
    const all = [log.append(text('leader'))];
    for (let i = 0; i < 500; i++) {
      all.push(log.append(text(`follower ${i}`)));
      await ticks(1 + (i % 5)); // spread over many turns while the leader's fsync waits
    }
    fs.release();
    await Promise.all(all);
    expect(sim.stats().syncs - before.syncs, 'one fsync for the leader, one for all followers').to.equal(2);
    await log.close();
  });

  it(`bounds a group by COMMITLOG_GROUP_MAX_RECORDS (${COMMITLOG_GROUP_MAX_RECORDS})`, async () => {
    const fs = new SimFileSystem();
    const { log } = await openCollect(fs);
    const before = fs.stats();
    const count = COMMITLOG_GROUP_MAX_RECORDS + 10;
    await Promise.all(Array.from({ length: count }, (_, i) => log.append(text(`${i}`))));
    expect(fs.stats().syncs - before.syncs).to.equal(2);
    await log.close();
  });

  it('resolves batch-mode appends only after fsync, so a crash right after keeps them all', async () => {
    const fs = new SimFileSystem();
    const { log } = await openCollect(fs);
    for (let i = 0; i < 20; i++) await log.append(text(`k${i}`));
    const { records } = await openCollect(fs.crash());
    expect(records.map(str)).to.deep.equal(Array.from({ length: 20 }, (_, i) => `k${i}`));
  });
});

/** Timers driven by hand, as the simulator's virtual clock would. */
class ManualTimers implements CommitLogTimers {
  now_ms = 0;
  private pending: { at_ms: number; fn: () => void; cancelled: boolean }[] = [];

  schedule(delay_ms: number, fn: () => void): { cancel(): void } {
    const timer = { at_ms: this.now_ms + delay_ms, fn, cancelled: false };
    this.pending.push(timer);
    return { cancel: () => (timer.cancelled = true) };
  }

  async advance(ms: number): Promise<void> {
    this.now_ms += ms;
    const due = this.pending.filter((t) => t.at_ms <= this.now_ms && !t.cancelled);
    this.pending = this.pending.filter((t) => t.at_ms > this.now_ms && !t.cancelled);
    for (const timer of due) timer.fn();
    await ticks(20);
  }
}

describe('storage/commit_log: periodic sync', () => {
  it('acknowledges after the write and fsyncs on the timer; a crash loses the unsynced window', async () => {
    const timers = new ManualTimers();
    const options: CommitLogOptions = { syncMode: 'periodic', periodicSync_ms: 100, timers };
    const fs = new SimFileSystem();
    const { log } = await openCollect(fs, options);
    const before = fs.stats().syncs;
    for (let i = 0; i < 10; i++) await log.append(text(`early ${i}`));
    expect(fs.stats().syncs, 'no fsync per append').to.equal(before);
    await timers.advance(100);
    expect(fs.stats().syncs).to.equal(before + 1);
    for (let i = 0; i < 5; i++) await log.append(text(`late ${i}`));
    await timers.advance(50);
    const { records } = await openCollect(fs.crash(), BATCH);
    expect(records.map(str), 'acknowledged but inside the window: lost').to.deep.equal(
      Array.from({ length: 10 }, (_, i) => `early ${i}`),
    );
  });

  it('keeps syncing every interval and syncs on close', async () => {
    const timers = new ManualTimers();
    const fs = new SimFileSystem();
    const { log } = await openCollect(fs, { syncMode: 'periodic', periodicSync_ms: 10, timers });
    const before = fs.stats().syncs;
    for (let round = 0; round < 3; round++) {
      await log.append(text(`round ${round}`));
      await timers.advance(10);
    }
    await timers.advance(10); // nothing new written: no fsync
    expect(fs.stats().syncs - before).to.equal(3);
    await log.append(text('at close'));
    await log.close();
    expect((await openCollect(fs.crash())).records.length).to.equal(4);
  });
});

describe('storage/commit_log: segments and errors', () => {
  it('rolls segments, replays them in order, deletes those before a flushed memtable', async () => {
    const fs = new SimFileSystem();
    const { log } = await openCollect(fs);
    await log.append(text('old a'));
    await log.append(text('old b'));
    const firstOpen = await log.rollSegment();
    expect(firstOpen).to.equal(2);
    await log.append(text('new c'));
    expect(log.segmentIds()).to.deep.equal([1, 2]);
    await log.deleteSegmentsBefore(firstOpen);
    expect(await fs.list(DIR)).to.deep.equal([segmentFileName(2)]);
    await log.close();
    const { log: reopened, records } = await openCollect(fs.crash());
    expect(records.map(str)).to.deep.equal(['new c']);
    await reopened.close();
  });

  it('rolls automatically past segmentBytes and replays every segment in order', async () => {
    const fs = new SimFileSystem();
    const { log } = await openCollect(fs, { syncMode: 'batch', segmentBytes: 100 });
    const payloads = Array.from({ length: 30 }, (_, i) => `payload number ${i}`);
    for (const p of payloads) await log.append(text(p));
    await log.close();
    for (const name of await fs.list(DIR)) expect((await fs.readFile(`${DIR}/${name}`)).length).to.be.at.most(100);
    const { log: reopened, records, positions } = await openCollect(fs);
    expect(records.map(str)).to.deep.equal(payloads);
    expect(new Set(positions.map((p) => p.segmentId)).size).to.be.greaterThan(5);
    expect(reopened.recovery).to.deep.include({ records: 30, tornTail: null });
    await reopened.close();
  });

  it('truncates a torn tail durably and reports it', async () => {
    const fs = new SimFileSystem();
    const { log } = await openCollect(fs);
    for (const p of ['one', 'two', 'three']) await log.append(text(p));
    await log.close();
    const path = `${DIR}/${segmentFileName(1)}`;
    const goodSize = (await fs.readFile(path)).length;
    const h = await fs.open(path, 'append');
    await h.append(new Uint8Array([9, 0, 0, 0, 1, 2])); // half a record header
    await h.sync();
    const { log: reopened, records } = await openCollect(fs);
    expect(records.map(str)).to.deep.equal(['one', 'two', 'three']);
    expect(reopened.recovery.tornTail).to.deep.equal({ path, offset: goodSize, droppedBytes: 6 });
    await reopened.close();
    const again = await openCollect(fs.crash());
    expect(again.log.recovery.tornTail).to.equal(null);
    expect(again.records.length).to.equal(3);
  });

  it('refuses payloads over COMMITLOG_RECORD_MAX_BYTES', async () => {
    const { log } = await openCollect(new SimFileSystem());
    let error: unknown = null;
    await log.append(new Uint8Array(COMMITLOG_RECORD_MAX_BYTES + 1)).catch((err: unknown) => (error = err));
    expect(error).to.be.instanceOf(InvalidRequestError);
    await log.append(new Uint8Array(COMMITLOG_RECORD_MAX_BYTES)); // the limit itself is fine
    await log.close();
  });

  it('fails the log on an I/O error, and recovers on reopen', async () => {
    const fs = new SimFileSystem();
    const { log } = await openCollect(fs);
    await log.append(text('safe'));
    fs.failNext('append', { partialBytes: 5 });
    const errors: unknown[] = [];
    await Promise.all([log.append(text('doomed')), log.append(text('also doomed'))].map((p) => p.catch((e) => errors.push(e))));
    await log.append(text('after')).catch((e) => errors.push(e));
    expect(errors.map((e) => (e as { code?: string }).code)).to.deep.equal(['EIO', 'EIO', 'EIO']);
    let closeError: unknown = null;
    await log.close().catch((e) => (closeError = e));
    expect((closeError as { code?: string } | null)?.code).to.equal('EIO');
    const { records, log: reopened } = await openCollect(fs.crash());
    expect(records.map(str)).to.deep.equal(['safe']);
    await reopened.close();
  });
});

describe('storage/commit_log: real disk', () => {
  const dirs: string[] = [];
  const fresh = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'ringkv-commitlog-'));
    dirs.push(dir);
    return join(dir, 'commitlog');
  };
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('appends, closes, reopens and replays in order', async () => {
    const dir = fresh();
    const fs = new RealFileSystem();
    const { log } = await openCollect(fs, { syncMode: 'batch', segmentBytes: 4096 }, dir);
    const payloads = Array.from({ length: 300 }, (_, i) => `real record ${i} ${'x'.repeat(i % 50)}`);
    await Promise.all(payloads.map((p) => log.append(text(p))));
    await log.close();
    expect(readdirSync(dir).length).to.be.greaterThan(2);
    const { log: reopened, records } = await openCollect(fs, BATCH, dir);
    expect(records.map(str)).to.deep.equal(payloads);
    await reopened.close();
  });

  it('recovers a truncated tail and detects a flipped byte', async () => {
    const dir = fresh();
    const fs = new RealFileSystem();
    const { log } = await openCollect(fs, BATCH, dir);
    for (let i = 0; i < 10; i++) await log.append(text(`entry ${i}`));
    await log.close();
    const path = join(dir, segmentFileName(1));
    truncateSync(path, statSync(path).size - 3);
    const { log: reopened, records } = await openCollect(fs, BATCH, dir);
    expect(records.map(str)).to.deep.equal(Array.from({ length: 9 }, (_, i) => `entry ${i}`));
    expect(reopened.recovery.tornTail?.path).to.equal(path);
    await reopened.close();
    const content = readFileSync(path);
    content[SEGMENT_HEADER_BYTES + RECORD_HEADER_BYTES]! ^= 0x10;
    writeFileSync(path, content);
    const err = await expectCorruption(openCollect(fs, BATCH, dir));
    expect([err.location, err.offset]).to.deep.equal([path, SEGMENT_HEADER_BYTES]);
  });

  it('runs periodic mode on real timers', async () => {
    const dir = fresh();
    const fs = new RealFileSystem();
    const { log } = await openCollect(fs, { syncMode: 'periodic', periodicSync_ms: 5, timers: realTimers }, dir);
    for (let i = 0; i < 50; i++) await log.append(text(`p${i}`));
    await new Promise((resolve) => setTimeout(resolve, 20));
    await log.close();
    const { log: reopened, records } = await openCollect(fs, BATCH, dir);
    expect(records.length).to.equal(50);
    await reopened.close();
  });
});

/**
 * Whole-process crash (issue 6): a child process (`sigkill_child.ts`) runs a
 * 3-node cluster with the commit log in `batch` sync and writes continuously;
 * the parent SIGKILLs it mid-write, KILLS times, each time starting a fresh
 * child on the same data directory. Every fresh child first reports, per
 * key, what each replica stores (before any read repair) and what a read at
 * r=all returns; the parent checks that every acknowledged write survived:
 *
 * - durability: for the last acknowledged put P of a key, at least W=2
 *   replicas store P or a later put of the key (batch sync fsyncs a write on
 *   W replicas before it is acknowledged; a later, unacknowledged put may
 *   have superseded P on some of them);
 * - visibility: the read returns P or a later put, and nothing older than P
 *   (each put passed the context of the previous one, so it supersedes it);
 * - no phantom: every value read or stored was written by a put of that key.
 *
 * The last child only verifies and exits. The kill delays come from a seed
 * (SEED= to replay them; the interleaving of real processes is not replayed).
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Prng, seedFrom } from '../../src/core/prng.js';

const SEED = seedFrom(process.env['SEED'], Date.now());
/** How many times the writing child is SIGKILLed. */
const KILLS = 2;
/** How long a child writes after "ready" before the kill, ms (uniform in [min, max]). */
const KILL_AFTER_MIN_MS = 1000;
const KILL_AFTER_MAX_MS = 2000;
/** Write acknowledgements the cluster needs (the child's w). */
const W = 2;
/** Fewest acknowledged writes a child must report before it is killed, so the test checks something. */
const ACKS_MIN = 50;
/** Bound on a child starting up and reporting its state. */
const CHILD_READY_TIMEOUT_MS = 30_000;
/** Problems printed in full before the assertion (chai cuts long diffs). */
const PROBLEMS_SHOWN_MAX = 40;

const childPath = join(dirname(fileURLToPath(import.meta.url)), 'sigkill_child.js');
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** One line of the child's protocol (see `sigkill_child.ts`). */
type ChildLine =
  | { t: 'state'; key: string; values: string[]; replicas: Record<string, string[] | null> }
  | { t: 'ready' }
  | { t: 'invoke'; key: string; value: string }
  | { t: 'ack'; key: string; value: string; version: string }
  | { t: 'error'; key: string; value: string; error: string };

/** What the parent knows of the writes so far, across every child. */
interface Ledger {
  /** Every value a put of the key was invoked with. */
  invoked: Map<string, Set<string>>;
  /** The last acknowledged value of each key. */
  lastAcked: Map<string, string>;
  acks: number;
  errors: string[];
}

describe('SIGKILL of the whole process mid-write', function () {
  this.timeout(120_000);
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(os.tmpdir(), 'ringkv-sigkill-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it(`finds every acknowledged write after ${KILLS} kills (SEED=${SEED})`, async () => {
    console.log(`      sigkill seed: SEED=${SEED}`);
    const random = new Prng(SEED);
    const ledger: Ledger = { invoked: new Map(), lastAcked: new Map(), acks: 0, errors: [] };
    const problems: string[] = [];
    for (let run = 1; run <= KILLS + 1; run++) {
      const killAfter_ms = run <= KILLS ? random.range(KILL_AFTER_MIN_MS, KILL_AFTER_MAX_MS) : null;
      const before = ledger.acks;
      const states = await runChild(dir, run, killAfter_ms, ledger, problems);
      console.log(`      child ${run}: verified ${states.length} keys, ${killAfter_ms === null ? 'exited' : `killed after ${killAfter_ms} ms with ${ledger.acks - before} new acks`}`);
      if (killAfter_ms !== null) expect(ledger.acks - before, `child ${run} acknowledged writes before the kill`).to.be.at.least(ACKS_MIN);
    }
    for (const line of [...ledger.errors, ...problems].slice(0, PROBLEMS_SHOWN_MAX)) console.log(`      ${line}`);
    expect(ledger.errors, 'writes that failed without any fault').to.deep.equal([]);
    expect(problems, `lost or phantom writes (SEED=${SEED})`).to.deep.equal([]);
  });
});

/**
 * Run one child on `dir`: collect its state lines and verify them against the
 * ledger as it stands when the child is ready (before any of its own puts),
 * adding to `problems`; then (when `killAfter_ms` is given) let it write that
 * long and SIGKILL it, recording its puts in the ledger. Resolves once the
 * child has exited, with the state it reported.
 */
async function runChild(dir: string, run: number, killAfter_ms: number | null, ledger: Ledger, problems: string[]): Promise<Array<Extract<ChildLine, { t: 'state' }>>> {
  const child = spawn(process.execPath, [childPath, dir, killAfter_ms === null ? 'verify' : 'write', String(run)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const states: Array<Extract<ChildLine, { t: 'state' }>> = [];
  let readyResolve!: () => void;
  const ready = new Promise<void>((resolve) => (readyResolve = resolve));
  const lines = createInterface({ input: child.stdout });
  const linesDone = new Promise<void>((resolve) => lines.on('close', resolve));
  lines.on('line', (text) => {
    const line = JSON.parse(text) as ChildLine;
    switch (line.t) {
      case 'state':
        states.push(line);
        break;
      case 'ready':
        problems.push(...verify(states, ledger, run));
        readyResolve();
        break;
      case 'invoke': {
        let values = ledger.invoked.get(line.key);
        if (values === undefined) ledger.invoked.set(line.key, (values = new Set()));
        values.add(line.value);
        break;
      }
      case 'ack': {
        const previous = ledger.lastAcked.get(line.key);
        if (previous !== undefined && compareValues(line.value, previous) <= 0) ledger.errors.push(`ack of ${line.value} after ${previous}: one writer per key acknowledges in order`);
        ledger.lastAcked.set(line.key, line.value);
        ledger.acks++;
        break;
      }
      case 'error':
        ledger.errors.push(`child ${run} put ${line.value}: ${line.error}`);
        break;
    }
  });
  let readyTimer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => (readyTimer = setTimeout(() => resolve('timeout'), CHILD_READY_TIMEOUT_MS)));
  const readyOrExit = await Promise.race([ready.then(() => 'ready' as const), exited.then(() => 'exited' as const), timedOut]);
  clearTimeout(readyTimer);
  if (readyOrExit !== 'ready') {
    child.kill('SIGKILL');
    await exited;
    throw new Error(`child ${run} did not get ready (${readyOrExit}); stderr:\n${stderr}`);
  }
  if (killAfter_ms !== null) {
    await sleep(killAfter_ms);
    process.kill(child.pid!, 'SIGKILL');
  }
  const { code, signal } = await exited;
  await linesDone;
  if (killAfter_ms === null) expect(code, `verify child ${run} exits cleanly; stderr:\n${stderr}`).to.equal(0);
  else expect(signal, `child ${run} died of the SIGKILL, not before it; stderr:\n${stderr}`).to.equal('SIGKILL');
  return states;
}

/** Check a fresh child's report against everything acknowledged before it; one line per problem. */
function verify(states: ReadonlyArray<Extract<ChildLine, { t: 'state' }>>, ledger: Ledger, run: number): string[] {
  const problems: string[] = [];
  const reported = new Set(states.map((s) => s.key));
  for (const key of ledger.lastAcked.keys()) if (!reported.has(key)) problems.push(`child ${run}: acknowledged key ${key} missing from the report`);
  for (const { key, values, replicas } of states) {
    const invoked = ledger.invoked.get(key) ?? new Set<string>();
    const acked = ledger.lastAcked.get(key);
    for (const value of [...values, ...Object.values(replicas).flatMap((held) => held ?? [])]) {
      if (!invoked.has(value)) problems.push(`child ${run}: key ${key} holds ${value}, which no put wrote (phantom)`);
    }
    if (acked === undefined) continue;
    const stale = values.filter((v) => invoked.has(v) && compareValues(v, acked) < 0);
    if (values.length === 0 || stale.length > 0) {
      problems.push(`child ${run}: key ${key} read ${JSON.stringify(values)} at r=all, but ${acked} was acknowledged (lost or rolled back)`);
    }
    const durable = Object.entries(replicas).filter(([, held]) => held?.some((v) => invoked.has(v) && compareValues(v, acked) >= 0));
    if (durable.length < W) {
      problems.push(`child ${run}: key ${key}: only ${durable.length} replicas store ${acked} or later before any repair, want ${W}: ${JSON.stringify(replicas)}`);
    }
  }
  return problems;
}

/** Order of two values of one key, "<key>@<run>.<seq>", by (run, seq). */
function compareValues(a: string, b: string): number {
  const [runA, seqA] = runSeq(a);
  const [runB, seqB] = runSeq(b);
  return runA - runB || seqA - seqB;
}

function runSeq(value: string): [number, number] {
  const match = /@(\d+)\.(\d+)$/.exec(value);
  if (match === null) throw new Error(`value ${value} is not <key>@<run>.<seq>`);
  return [Number(match[1]), Number(match[2])];
}

/**
 * The child process of `sigkill.test.ts`: opens a 3-node cluster (commit log
 * in `batch` sync) on a data directory that an earlier child may have left
 * behind when it was SIGKILLed, reports what every key holds, then (mode
 * `write`) writes until it is killed.
 *
 * Usage: node sigkill_child.js <dataDir> <write|verify> <run>
 *
 * Protocol: one JSON object per line on stdout, in this order:
 *   {"t":"state","key":K,"values":[...],"replicas":{"n1":[...],...}}
 *       one per key of the key space: the values each intended replica
 *       stores (tombstones never occur here), taken with `explain` before
 *       any read, then the values of a get at r=all;
 *   {"t":"ready"}
 *   then, in mode `write`, for every put:
 *   {"t":"invoke","key":K,"value":V}   before the put is sent,
 *   {"t":"ack","key":K,"value":V,"version":D}   after it was acknowledged,
 *   {"t":"error","key":K,"value":V,"error":E}   if it failed (outcome unknown).
 * In mode `verify` it closes the cluster and exits 0 after "ready".
 *
 * Writers: WRITERS async loops, each the only writer of its KEYS_PER_WRITER
 * keys, one put in flight per loop, each put passing the context of the
 * previous one of that key (the first one in a run, the context of the
 * startup read), so each write supersedes the last. Values are
 * "<key>@<run>.<seq>": unique, and ordered per key by (run, seq).
 *
 * Nothing here is exported: importing this file runs it. The parent learns
 * the key space from the "state" lines.
 *
 * Stdout to a pipe is synchronous on Linux, so a line the parent reads was
 * written before the kill, and an "ack" line follows a write acknowledged
 * by W=2 replicas.
 */
import { openCluster, type Cluster } from '../../src/index.js';

/** Concurrent writer loops. */
const WRITERS = 8;
/** Keys owned by each writer loop. */
const KEYS_PER_WRITER = 12;
/** Nodes of the cluster; n=3, w=2, r=2. */
const CHILD_NODES = 3;

/** The key space, by writer. */
function writerKeys(writer: number): string[] {
  return Array.from({ length: KEYS_PER_WRITER }, (_, i) => `w${writer}-k${i}`);
}

/** Every key of the key space. */
function allKeys(): string[] {
  return Array.from({ length: WRITERS }, (_, w) => writerKeys(w)).flat();
}

/** A line of the protocol. */
type ChildLine =
  | { t: 'state'; key: string; values: string[]; replicas: Record<string, string[] | null> }
  | { t: 'ready' }
  | { t: 'invoke'; key: string; value: string }
  | { t: 'ack'; key: string; value: string; version: string }
  | { t: 'error'; key: string; value: string; error: string };

function emit(line: ChildLine): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

/** Report every key: replicas' stored values first (before a read repairs anything), then a read at r=all. */
async function reportState(cluster: Cluster, contexts: Map<string, string>): Promise<void> {
  for (const key of allKeys()) {
    const explained = await cluster.explain(key);
    const replicas: Record<string, string[] | null> = {};
    for (const replica of explained.replicas) {
      replicas[replica.node] = replica.versions === null ? null : replica.versions.map((v) => (v.value === null ? '<tombstone>' : v.value.toString()));
    }
    const read = await cluster.get(key, { r: 'all' });
    contexts.set(key, read.context);
    emit({ t: 'state', key, values: read.values.map((v) => v.toString()), replicas });
  }
}

/** One writer: puts to its keys in turn, forever (until the process is killed). */
async function writeForever(cluster: Cluster, writer: number, run: string, contexts: Map<string, string>): Promise<never> {
  const keys = writerKeys(writer);
  for (let seq = 1; ; seq++) {
    const key = keys[seq % keys.length]!;
    const value = `${key}@${run}.${seq}`;
    emit({ t: 'invoke', key, value });
    try {
      const written = await cluster.put(key, value, { context: contexts.get(key) ?? '' });
      contexts.set(key, written.context);
      emit({ t: 'ack', key, value, version: written.receipt.version ?? '' });
    } catch (err) {
      // The outcome is unknown; the next put of this key keeps the old context, so the two may be siblings.
      emit({ t: 'error', key, value, error: String(err) });
    }
  }
}

async function main(): Promise<void> {
  const [dataDir, mode, run] = process.argv.slice(2);
  if (dataDir === undefined || (mode !== 'write' && mode !== 'verify') || run === undefined || !/^\d+$/.test(run)) {
    throw new Error('usage: sigkill_child.js <dataDir> <write|verify> <run>');
  }
  const cluster = await openCluster({ nodes: CHILD_NODES, dataDir, syncMode: 'batch', replication: { n: 3, w: 2, r: 2 } });
  const contexts = new Map<string, string>();
  await reportState(cluster, contexts);
  emit({ t: 'ready' });
  if (mode === 'verify') {
    await cluster.close();
    return;
  }
  await Promise.all(Array.from({ length: WRITERS }, (_, w) => writeForever(cluster, w, run, contexts)));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`sigkill_child: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);

/**
 * A cluster's data directory, opened by one process: locked, checked
 * against the shape the cluster was created with, and each node's directory
 * locked in turn, before any node starts.
 *
 *   <dataDir>/LOCK          the directory's lock (`storage/dir_lock.ts`): one process at a time
 *   <dataDir>/CLUSTER       the cluster record (`cluster_record.ts`): id, members, tokens, replicas
 *   <dataDir>/<node id>/    one node's data (`node_plan.ts`), with its own LOCK
 *
 * The root lock guards the record (two first opens cannot both write one);
 * a node directory's lock guards its files for anything that opens a node
 * directory on its own. Everything is released by `release()`, after the
 * nodes stopped; a process that dies leaves stale locks, which the next
 * open recognises and takes over.
 *
 * Thread contract: main thread.
 */
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ResolvedCluster, ResolvedNode } from './cluster_config.js';
import { NAME_PATTERN } from './cluster_options_check.js';
import { newRecord, readRecord, shapeDifferences, shapeMismatch, withRecordedTokens, writeRecord, type ClusterRecord } from './cluster_record.js';
import { ConfigError } from '../core/errors.js';
import { nodeDir } from './node_plan.js';
import { lockDir, REAL_PROCESSES, type DirLock, type ProcessProbe } from '../../storage/dir_lock.js';

/** A data directory this process holds. */
export interface OpenedDataDir {
  /** The cluster to run: the shape asked for, on the recorded tokens. */
  config: ResolvedCluster;
  record: ClusterRecord;
  /** Member ids of the nodes this process hosts (every member, unless the cluster spans processes). */
  local: readonly string[];
  /** Create and lock the directory of a node this process starts hosting (a membership change adds it). */
  addNode(node: ResolvedNode): Promise<void>;
  /** Release every lock (node directories, then the root); later calls do nothing. */
  release(): Promise<void>;
}

/**
 * Lock `dataDir`, check (or, the first time, write) its cluster record
 * against `asked`, and lock every node's directory. Throws `DataDirError`
 * (in use, with the holder's pid; a damaged record) or `ConfigError` (a
 * shape other than the recorded one), holding nothing.
 */
export function openDataDir(dataDir: string, asked: ResolvedCluster, probe: ProcessProbe = REAL_PROCESSES): Promise<OpenedDataDir> {
  return openDataDirWith(
    dataDir,
    async (record) => {
      if (record !== null) {
        const differences = shapeDifferences(record, asked);
        if (differences.length > 0) throw shapeMismatch(dataDir, record, differences);
        const config = withRecordedTokens(asked, record);
        return { config, record, local: config.nodes.map((n) => n.member) };
      }
      return { config: asked, record: newRecord(asked, Date.now()), local: asked.nodes.map((n) => n.member) };
    },
    probe,
  );
}

/** What a data directory's opener settled on: the cluster, its record, and the members this process hosts. */
export interface SettledCluster {
  config: ResolvedCluster;
  record: ClusterRecord;
  local: readonly string[];
}

/**
 * Lock `dataDir`, read its record, let `settle` decide the cluster from it
 * (null: there is none; a multi-process cluster asks its seeds here), write
 * the record it returns if that differs from the one read, and lock the
 * directory of every node this process hosts. Throws what `settle` throws,
 * or `DataDirError`, holding nothing.
 */
export async function openDataDirWith(dataDir: string, settle: (record: ClusterRecord | null) => Promise<SettledCluster>, probe: ProcessProbe = REAL_PROCESSES): Promise<OpenedDataDir> {
  await mkdir(dataDir, { recursive: true });
  const locks: DirLock[] = [await lockDir(dataDir, probe)];
  let releasing: Promise<void> | null = null;
  const release = (): Promise<void> => {
    releasing ??= (async () => {
      for (const lock of [...locks].reverse()) await lock.release();
    })();
    return releasing;
  };
  try {
    const read = await readRecord(dataDir);
    const { config, record, local } = await settle(read);
    const hosted = config.nodes.filter((n) => local.includes(n.member));
    if (read === null) await checkUnrecorded(dataDir, hosted.map((n) => n.label));
    if (read === null || JSON.stringify(read) !== JSON.stringify(record)) await writeRecord(dataDir, record);
    for (const node of hosted) {
      const dir = nodeDir(dataDir, node);
      await mkdir(dir, { recursive: true });
      locks.push(await lockDir(dir, probe));
    }
    const addNode = async (node: ResolvedNode): Promise<void> => {
      const dir = nodeDir(dataDir, node);
      if (locks.some((lock) => lock.dir === dir)) return;
      await mkdir(dir, { recursive: true });
      locks.push(await lockDir(dir, probe));
    };
    return { config, record, local, addNode, release };
  } catch (err) {
    await release();
    throw err;
  }
}

/**
 * A directory without a record was either never used or written by a
 * ringkv from before records: then its node directories say which nodes it
 * had (not N), and a start with other nodes is refused like a recorded one.
 */
async function checkUnrecorded(dataDir: string, askedIds: readonly string[]): Promise<void> {
  const held: string[] = [];
  for (const entry of await readdir(dataDir, { withFileTypes: true })) {
    // Only what could be a node's directory: not lost+found, not a hidden .snapshot of the file system.
    if (!entry.isDirectory() || !NAME_PATTERN.test(entry.name) || entry.name.startsWith('.')) continue;
    if ((await readdir(join(dataDir, entry.name))).length > 0) held.push(entry.name);
  }
  const same = held.length === askedIds.length && askedIds.every((id) => held.includes(id));
  if (held.length === 0 || same) return;
  throw new ConfigError(
    [`nodes: it holds the data of nodes ${held.sort().join(', ')}; ${askedIds.join(', ')} were asked`],
    `data directory ${dataDir} has no cluster record (it was written by an earlier ringkv) and holds other nodes`,
    'Start it once with exactly those nodes (and the replicas per key they were written with), which records its shape; or give a new data directory.',
  );
}

/**
 * A data directory's cluster record: which cluster it holds and the shape
 * that cluster was created with (its members in order with their data
 * centers, racks, weights and tokens, and the replicas per data center).
 * Where a key lives follows from that shape, so a start with another one
 * (more nodes, another N) would look for keys on nodes that never held
 * them and read nil: such a start is refused, with what differs and what to
 * do (`shapeDifferences`). A start that agrees runs with the recorded
 * tokens, whatever today's token assignment would choose (Cassandra keeps
 * a node's tokens in its system tables for the same reason).
 *
 * File `<dataDir>/CLUSTER`, text, so a user can read it:
 *
 *   ringkv cluster record 1 checksum <8 hex digits>\n    <- header line
 *   { "cluster_id": ..., "members": [...], ... }\n        <- body: JSON
 *
 *   checksum = xxh32 (`core/hash.ts` `checksum`) of the body's bytes
 *
 * Written once, when the cluster is first opened, atomically: body and
 * header to `CLUSTER.tmp`, fsync, rename over `CLUSTER`, fsync the
 * directory. A crash leaves no record (the next open writes it) or a whole
 * one; a checksum mismatch means the disk or a person changed it, and the
 * start is refused with advice (`DataDirError` 'corrupt-record').
 *
 * Thread contract: main thread; the caller holds the data directory's lock.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { ResolvedCluster, ResolvedNode } from './cluster_config.js';
import { DEFAULT_DC } from './cluster_options_check.js';
import { checksum } from '../core/hash.js';
import { ConfigError, DataDirError } from '../core/errors.js';
import { CLUSTER_RECORD_MAX_BYTES, THREADS_MAX } from '../core/limits.js';
import type { RingMember } from '../core/ring.js';
import { RING_POSITIONS } from '../core/tokens.js';
import { threadOf } from '../../actors/member_refs.js';
import { RealFileSystem } from '../../storage/real_fs.js';

/** Name of the record in the data directory. */
export const CLUSTER_RECORD_FILE = 'CLUSTER';
const CLUSTER_RECORD_TEMP_FILE = 'CLUSTER.tmp';
const FORMAT_VERSION = 1;
const HEADER = /^ringkv cluster record (\d+) checksum ([0-9a-f]{8})\n/;

/** One member as recorded. */
export interface RecordedMember {
  /** The node id the user gave (its directory's name). */
  id: string;
  /** Its member id inside the cluster (`n<thread>`). */
  member: string;
  dc: string;
  rack: string;
  weight: number;
  /** Its ring tokens, ascending. */
  tokens: number[];
  /**
   * In a cluster of several processes (issue 16): the address (`host:port`)
   * of the peer listener of the process hosting it. Absent when the whole
   * cluster runs in one process.
   */
  host?: string;
}

/** What a data directory records of its cluster. */
export interface ClusterRecord {
  /** Random, made when the directory was first opened. */
  cluster_id: string;
  /** When that was (ms since the epoch). */
  created_ms: number;
  /** Members in ring-building order. */
  members: RecordedMember[];
  /** Replicas per data center; their sum is N. */
  replicas_per_dc: Record<string, number>;
  /**
   * Membership changes committed since the cluster was created (issue 16):
   * the number of the ring view the members are at. Absent or 0: the
   * members are those the cluster was created with. Once it is above 0 the
   * record's members are the cluster's, whatever shape a start asks for.
   */
  ring_version?: number;
  /** The highest thread any member ever had: a new member takes the next, so no member id is ever reused. */
  last_thread?: number;
}

/** A new record of `config`, with a fresh cluster id unless one is given (the processes of one cluster agree on it). */
export function newRecord(config: ResolvedCluster, now_ms: number, cluster_id: string = randomUUID()): ClusterRecord {
  return {
    cluster_id,
    created_ms: now_ms,
    members: config.nodes.map((node) => ({
      id: node.label,
      member: node.member,
      dc: node.dc,
      rack: node.rack,
      weight: node.weight,
      tokens: [...ringMember(config, node).tokens].sort((a, b) => a - b),
      ...(node.host !== undefined ? { host: node.host } : {}),
    })),
    replicas_per_dc: { ...config.replication.dcs },
  };
}

/** The record's bytes: header line, then the JSON body. */
export function encodeRecord(record: ClusterRecord): string {
  // One line per field and per member, so the file reads as a table.
  const members = record.members.map((m) => `  ${JSON.stringify(m)}`).join(',\n');
  const body =
    `{\n "cluster_id": ${JSON.stringify(record.cluster_id)},\n "created_ms": ${JSON.stringify(record.created_ms)},\n` +
    ` "replicas_per_dc": ${JSON.stringify(record.replicas_per_dc)},\n` +
    (record.ring_version !== undefined ? ` "ring_version": ${JSON.stringify(record.ring_version)},\n` : '') +
    (record.last_thread !== undefined ? ` "last_thread": ${JSON.stringify(record.last_thread)},\n` : '') +
    ` "members": [\n${members}\n ]\n}\n`;
  const sum = checksum(Buffer.from(body, 'utf8')).toString(16).padStart(8, '0');
  return `ringkv cluster record ${FORMAT_VERSION} checksum ${sum}\n${body}`;
}

/** Parse and check a record read from `path`; throws `DataDirError` 'corrupt-record' saying what to do. */
export function decodeRecord(text: string, dataDir: string): ClusterRecord {
  const path = join(dataDir, CLUSTER_RECORD_FILE);
  const corrupt = (why: string): DataDirError =>
    new DataDirError(
      dataDir,
      'corrupt-record',
      `its cluster record ${path} is damaged (${why}); it is written whole and never changed, so the disk or a person altered it. ` +
        `Restore the file from a backup; or, if you know the exact shape this directory was created with (nodes, and N or replicas per data center), ` +
        `delete the file and start with that shape, and a new record is written`,
    );
  const header = HEADER.exec(text);
  if (!header) throw corrupt('no "ringkv cluster record" header line');
  if (Number(header[1]) !== FORMAT_VERSION) {
    throw new DataDirError(dataDir, 'corrupt-record', `its cluster record ${path} has format ${header[1]}, which this ringkv (format ${FORMAT_VERSION}) does not read; use the ringkv version that wrote it`);
  }
  const body = text.slice(header[0].length);
  const sum = checksum(Buffer.from(body, 'utf8')).toString(16).padStart(8, '0');
  if (sum !== header[2]) throw corrupt(`checksum ${sum}, header says ${header[2]}`);
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (err) {
    throw corrupt(`not JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  const problem = recordProblem(value);
  if (problem !== null) throw corrupt(problem);
  return value as ClusterRecord;
}

/** The record of `dataDir`, or null when it has none. */
export async function readRecord(dataDir: string): Promise<ClusterRecord | null> {
  const fs = new RealFileSystem();
  const path = join(dataDir, CLUSTER_RECORD_FILE);
  if (!(await fs.exists(path))) return null;
  const bytes = await fs.readFile(path);
  if (bytes.length > CLUSTER_RECORD_MAX_BYTES) {
    throw new DataDirError(dataDir, 'corrupt-record', `its cluster record ${path} is ${bytes.length} bytes, over the ${CLUSTER_RECORD_MAX_BYTES} a record can be; restore it from a backup`);
  }
  return decodeRecord(Buffer.from(bytes).toString('utf8'), dataDir);
}

/** Write `record` into `dataDir` atomically (temp file, fsync, rename, fsync the directory). */
export async function writeRecord(dataDir: string, record: ClusterRecord): Promise<void> {
  const fs = new RealFileSystem();
  const temp = join(dataDir, CLUSTER_RECORD_TEMP_FILE);
  const file = await fs.open(temp, 'create');
  try {
    await file.append(Buffer.from(encodeRecord(record), 'utf8'));
    await file.sync();
  } finally {
    await file.close();
  }
  await fs.rename(temp, join(dataDir, CLUSTER_RECORD_FILE));
  await fs.syncDir(dataDir);
}

/**
 * What differs between the recorded shape and the one asked for, one
 * message each; [] when they agree. Node order matters: it decides member
 * ids and tokens.
 */
export function shapeDifferences(record: ClusterRecord, config: ResolvedCluster): string[] {
  const differences: string[] = [];
  const recordedIds = record.members.map((m) => m.id);
  const askedIds = config.nodes.map((n) => n.label);
  if ((record.ring_version ?? 0) > 0) {
    // Members changed since creation: the record's are the cluster's; only the replicas are compared.
  } else if (recordedIds.join('\0') !== askedIds.join('\0')) {
    differences.push(
      recordedIds.length === askedIds.length
        ? `nodes: it was created for nodes ${idList(recordedIds)} (in that order); ${idList(askedIds)} were asked`
        : `nodes: it was created for ${recordedIds.length} nodes (${idList(recordedIds)}); ${askedIds.length} were asked (${idList(askedIds)})`,
    );
  } else {
    record.members.forEach((recorded, i) => {
      const asked = config.nodes[i]!;
      const place = (m: { dc: string; rack: string; weight: number }): string => `data center ${m.dc}, rack ${m.rack}, weight ${m.weight}`;
      if (recorded.dc !== asked.dc || recorded.rack !== asked.rack || recorded.weight !== asked.weight) {
        differences.push(`node ${recorded.id}: it was created in ${place(recorded)}; ${place(asked)} was asked`);
      }
    });
  }
  const recordedN = sum(record.replicas_per_dc);
  const askedN = config.replication.n;
  if (JSON.stringify(sorted(record.replicas_per_dc)) !== JSON.stringify(sorted(config.replication.dcs))) {
    differences.push(
      Object.keys(record.replicas_per_dc).length === 1 && Object.keys(config.replication.dcs).length === 1 && recordedN !== askedN
        ? `replicas per key (N): it was created with ${recordedN}; ${askedN} were asked`
        : `replicas per data center: it was created with ${JSON.stringify(sorted(record.replicas_per_dc))} (N=${recordedN}); ${JSON.stringify(sorted(config.replication.dcs))} (N=${askedN}) were asked`,
    );
  }
  return differences;
}

/** The refusal of a start whose shape differs from the record's. */
export function shapeMismatch(dataDir: string, record: ClusterRecord, differences: readonly string[]): ConfigError {
  const n = sum(record.replicas_per_dc);
  const defaultShape = record.members.every((m, i) => m.id === `n${i + 1}` && m.dc === DEFAULT_DC && m.rack === m.id && m.weight === 1);
  const asCli = defaultShape ? `ringkv start --nodes ${record.members.length} --n ${n}; ` : '';
  const asApi = `openCluster({ nodes: ${defaultShape ? record.members.length : '[' + idList(record.members.map((m) => m.id)) + ']'}, replication: ${defaultShape ? `{ n: ${n} }` : `{ dcs: ${JSON.stringify(record.replicas_per_dc)} }`} })`;
  return new ConfigError(
    differences,
    `data directory ${dataDir} holds cluster ${record.cluster_id} (created ${new Date(record.created_ms).toISOString()}) with another shape`,
    `Start it with the shape it was created with (${asCli}${asApi}), or give a new data directory. ` +
      'Changing the nodes or replicas of a cluster that holds data needs elastic membership, which ringkv does not have yet: keys would be looked for on nodes that never held them.',
  );
}

/**
 * `config` running on the recorded tokens (the shape agrees: `shapeDifferences`
 * is empty). After a membership change, the recorded members themselves,
 * with `config`'s replication.
 */
export function withRecordedTokens(config: ResolvedCluster, record: ClusterRecord): ResolvedCluster {
  const ring: RingMember[] = record.members.map((m) => ({ id: m.member, dc: m.dc, rack: m.rack, weight: m.weight, tokens: [...m.tokens] }));
  if ((record.ring_version ?? 0) === 0) return { ...config, ring };
  const nodes: ResolvedNode[] = record.members.map((m) => ({
    label: m.id,
    member: m.member,
    thread: threadOf(m.member),
    dc: m.dc,
    rack: m.rack,
    weight: m.weight,
    ...(m.host !== undefined ? { host: m.host } : {}),
  }));
  return { ...config, nodes, ring };
}

/** The record of `config` after a membership change committed at ring view `version`. */
export function recordAfterChange(before: ClusterRecord, config: ResolvedCluster, version: number): ClusterRecord {
  const last = Math.max(before.last_thread ?? 0, ...before.members.map((m) => threadOf(m.member)), ...config.nodes.map((n) => n.thread));
  return { ...newRecord(config, before.created_ms, before.cluster_id), ring_version: version, last_thread: last };
}

/** "n1..n5" for default ids, else the ids (at most 10 shown). */
function idList(ids: readonly string[]): string {
  if (ids.length > 2 && ids.every((id, i) => id === `n${i + 1}`)) return `n1..n${ids.length}`;
  return ids.length <= 10 ? ids.join(', ') : `${ids.slice(0, 10).join(', ')}, ... (${ids.length})`;
}

function ringMember(config: ResolvedCluster, node: ResolvedNode): RingMember {
  const member = config.ring.find((m) => m.id === node.member);
  if (!member) throw new Error(`no ring member for ${node.member}`);
  return member;
}

function sum(counts: Record<string, number>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

function sorted(counts: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).filter(([, c]) => c > 0).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Why `value` is not a well-formed record, or null. */
export function recordProblem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null) return 'the body is not an object';
  const v = value as Partial<Record<keyof ClusterRecord, unknown>>;
  if (typeof v.cluster_id !== 'string' || v.cluster_id.length === 0) return 'no cluster_id';
  if (!Number.isFinite(v.created_ms)) return 'no created_ms';
  if (typeof v.replicas_per_dc !== 'object' || v.replicas_per_dc === null) return 'no replicas_per_dc';
  if (!Object.values(v.replicas_per_dc).every((c) => Number.isSafeInteger(c) && (c as number) >= 0)) return 'a replica count is not a whole number';
  if (!Array.isArray(v.members) || v.members.length === 0) return 'no members';
  for (const [i, raw] of (v.members as unknown[]).entries()) {
    const m = raw as Partial<Record<keyof RecordedMember, unknown>>;
    if (typeof m !== 'object' || m === null) return `member ${i} is not an object`;
    // Members are n1..nK in order until a membership change; after one, any distinct n<thread>.
    const positional = ((v as { ring_version?: unknown }).ring_version ?? 0) === 0;
    if (typeof m.id !== 'string' || typeof m.member !== 'string' || (positional ? m.member !== `n${i + 1}` : !(/^n[1-9]\d?$/.test(m.member) && Number(m.member.slice(1)) < THREADS_MAX)) || typeof m.dc !== 'string' || typeof m.rack !== 'string' || typeof m.weight !== 'number') {
      return `member ${i} lacks its id, member, dc, rack or weight`;
    }
    if (!Array.isArray(m.tokens) || !m.tokens.every((t) => Number.isSafeInteger(t) && t >= 0 && t < RING_POSITIONS)) return `member ${m.id} has a token outside the ring`;
    if (m.host !== undefined && typeof m.host !== 'string') return `member ${m.id} has a host that is not an address`;
  }
  if (new Set((v.members as { member: string }[]).map((m) => m.member)).size !== v.members.length) return 'two members share a member id';
  return null;
}

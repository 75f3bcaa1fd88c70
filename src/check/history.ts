/**
 * A client-side history of a ringkv cluster, for the consistency checker
 * (`checker.ts`): every operation's invocation and completion, as Jepsen
 * records one. After a fault campaign heals, the harness adds a `FinalState`:
 * a read of every key written and, when it can ask, each replica's stored
 * versions.
 *
 * - `HistoryRecorder` builds a history as clients run. An op is recorded at
 *   invocation with outcome 'unknown' and no completion, so a client that
 *   crashes or gives up leaves exactly what the checker must assume: the op
 *   may or may not have taken effect.
 * - `historyToJson` / `historyFromJson` save a history to disk and load it
 *   back to check later; loading validates everything it reads.
 * - `validateHistory` is the one check of a history's shape, shared by the
 *   loader and the checker.
 *
 * Pure: no I/O, no clock (callers pass times). A recorder is plain state:
 * safe to use from one thread (any number of async clients on its event loop).
 */
import { assert } from '../core/assert.js';
import { InvalidRequestError, OverloadedError } from '../core/errors.js';
import { HISTORY_OPS_MAX } from '../core/limits.js';

export type OpKind = 'put' | 'delete' | 'get';
export type Outcome = 'ok' | 'failed' | 'unknown';

/** One client operation: its invocation and, if it completed, its result. */
export interface HistoryOp {
  id: number; // unique, increasing in invocation order
  client: string;
  key: string;
  kind: OpKind;
  value?: string; // put: the value written
  context?: string; // put/delete: the context passed ('' = none)
  invoked_ms: number;
  completed_ms: number | null; // null when it never completed
  outcome: Outcome; // 'unknown' = timed out / crashed client: it may or may not have taken effect
  version?: string; // ok put/delete: receipt.version
  values?: string[]; // ok get
  versions?: string[]; // ok get, parallel to values
  readContext?: string; // ok get: the context it returned
  ryw?: boolean; // the op ran in strict mode with W+R>N: read-your-writes applies
  /**
   * put/delete: an overwrite (Redis SET/DEL): it passes no context and
   * supersedes whatever the minting owner holds. Its applied context is in
   * `superseded` when acknowledged; otherwise unknown, so it may have
   * superseded anything minted before it.
   */
  overwrite?: boolean;
  /**
   * Ok put/delete: the nodes that acknowledged it (receipt.acks), by label; a
   * hint holder as "label>owner" (the owner it stood in for).
   */
  stored_on?: string[];
  /**
   * Ok put/delete: the causal context the new version actually superseded
   * (WriteResult.superseded): the one passed, or for an overwrite what the
   * minting owner held.
   */
  superseded?: string;
  /** Ok put/delete: the context the write returned (WriteResult.context), which a client may carry on. */
  replyContext?: string;
}

/** A node crash the harness injected (and when the node came back, if it did). */
export interface CrashRecord {
  /** Node label. */
  node: string;
  /** When it crashed (harness clock, ms: the clock ops are timed by). */
  at_ms: number;
  /** When it restarted, or null if it stayed down. */
  restarted_ms: number | null;
}

/** What the harness observes after the campaign. */
export interface FinalState {
  /** After heal and quiescence: a read of every key written (values/versions as a get returns them). */
  reads: Map<string, { values: string[]; versions: string[] }>;
  /**
   * Each replica's stored versions per key (tombstones included), as
   * "dot=digest" (the dot as a version names it, '=', the value digest in
   * hex; a plain dot from older harnesses). Absent = not checked.
   */
  replicas?: Map<string, Map<string, string[]>>;
  /** The crashes injected during the run. Absent = not recorded. */
  crashes?: CrashRecord[];
  /** The nodes' commit-log sync mode: under 'periodic', a crash may lose the last `window_ms` of acknowledged writes. */
  sync?: { mode: 'batch' | 'periodic'; window_ms: number };
  /** Dot conflicts the replicas reported (one dot naming two values; their `dot_conflicts` stats summed). */
  dotConflicts?: number;
  /** Nodes removed for good during the run (issue 16: removed or replaced as dead), with when. */
  removed?: { node: string; at_ms: number }[];
  /** Hints could expire undelivered in this run (a short hint lifetime). */
  hintsExpire?: boolean;
}

/** What a client knows when it invokes an op. */
export interface InvokeFields {
  /** When the client invoked it (its clock, ms). */
  invoked_ms: number;
  /** put: the value written (unique in the history, so reads can name their writer). */
  value?: string;
  /** put/delete: the context passed ('' or absent = none). */
  context?: string;
  /** The op runs in strict mode with W+R>N, so read-your-writes applies to it. */
  ryw?: boolean;
  /** put/delete: an overwrite (supersedes what the owner holds; see `HistoryOp.overwrite`). */
  overwrite?: boolean;
}

/** What a completed op returned (ok outcomes only; failed ops return nothing). */
export interface CompleteFields {
  /** ok put/delete: `receipt.version`. */
  version?: string;
  /** ok get: the values, as strings. */
  values?: string[];
  /** ok get: the versions, parallel to `values`. */
  versions?: string[];
  /** ok get: the context it returned. */
  readContext?: string;
  /** ok put/delete: the nodes that acknowledged it ("label", or "label>owner" for a hint holder). */
  stored_on?: string[];
  /** ok put/delete: the context it superseded (WriteResult.superseded). */
  superseded?: string;
  /** ok put/delete: the context it returned (WriteResult.context). */
  replyContext?: string;
}

/**
 * Records a history as clients run. Ids start at 1 and follow invocation
 * order. Holds at most `opsMax` ops: `invoke` past that throws
 * `OverloadedError` rather than drop ops (a history with holes would make the
 * checker report phantoms).
 */
export class HistoryRecorder {
  private readonly recorded: HistoryOp[] = [];

  constructor(readonly opsMax: number = HISTORY_OPS_MAX) {
    assert(Number.isSafeInteger(opsMax) && opsMax >= 1, 'a history holds at least one op');
  }

  /** Ops recorded so far. */
  get length(): number {
    return this.recorded.length;
  }

  /** Record an invocation; returns the op's id for `complete`. */
  invoke(client: string, kind: OpKind, key: string, fields: InvokeFields): number {
    if (this.recorded.length >= this.opsMax) {
      throw new OverloadedError(`history recorder (${this.opsMax} ops)`);
    }
    assert(kind !== 'put' || fields.value !== undefined, 'a put records the value it writes');
    assert(kind === 'put' || fields.value === undefined, 'only a put has a value');
    assert(kind !== 'get' || fields.context === undefined, 'a get passes no context');
    assert(Number.isFinite(fields.invoked_ms), 'invoked_ms is a finite time');
    const id = this.recorded.length + 1;
    const op: HistoryOp = { id, client, key, kind, invoked_ms: fields.invoked_ms, completed_ms: null, outcome: 'unknown' };
    if (fields.value !== undefined) op.value = fields.value;
    if (kind !== 'get') op.context = fields.context ?? '';
    if (fields.ryw !== undefined) op.ryw = fields.ryw;
    if (fields.overwrite === true) {
      assert(kind !== 'get' && (fields.context ?? '') === '', 'an overwrite is a write that passes no context');
      op.overwrite = true;
    }
    this.recorded.push(op);
    return id;
  }

  /**
   * Record how op `id` ended. 'unknown' (a timeout) keeps `completed_ms`
   * null: the op may still take effect at any later time.
   */
  complete(id: number, outcome: Outcome, fields: CompleteFields, now_ms: number): void {
    const op = this.recorded[id - 1];
    assert(op !== undefined && op.id === id, 'complete names an invoked op');
    assert(op.outcome === 'unknown' && op.completed_ms === null, 'an op completes once');
    assert(Number.isFinite(now_ms) && now_ms >= op.invoked_ms, 'an op completes after it was invoked');
    op.outcome = outcome;
    if (outcome === 'unknown') return;
    op.completed_ms = now_ms;
    if (outcome === 'failed') return;
    if (op.kind === 'get') {
      assert(fields.values !== undefined && fields.versions !== undefined, 'an ok get records values and versions');
      assert(fields.values.length === fields.versions.length, 'a get returns one version per value');
      op.values = [...fields.values];
      op.versions = [...fields.versions];
      if (fields.readContext !== undefined) op.readContext = fields.readContext;
    } else {
      assert(fields.version !== undefined, 'an ok write records receipt.version');
      op.version = fields.version;
      if (fields.stored_on !== undefined) op.stored_on = [...fields.stored_on];
      if (fields.superseded !== undefined) op.superseded = fields.superseded;
      if (fields.replyContext !== undefined) op.replyContext = fields.replyContext;
    }
  }

  /** The history so far; ops not yet completed read as 'unknown' with no completion. */
  ops(): readonly HistoryOp[] {
    return this.recorded;
  }
}

/**
 * Throw `InvalidRequestError` naming the first op that is malformed: ids not
 * increasing, a field of the wrong kind, an ok write without its version, an
 * ok get without parallel values and versions. Contexts and versions are
 * parsed by the checker, which reports a malformed one the same way.
 */
export function validateHistory(history: readonly HistoryOp[]): void {
  if (history.length > HISTORY_OPS_MAX) bad(`a history holds at most ${HISTORY_OPS_MAX} ops, this one ${history.length}`);
  let lastId = -Infinity;
  for (const op of history) {
    const where = `op #${op.id}`;
    if (!Number.isSafeInteger(op.id) || op.id <= lastId) bad(`${where}: ids are integers increasing in invocation order`);
    lastId = op.id;
    if (typeof op.client !== 'string' || typeof op.key !== 'string') bad(`${where}: client and key are strings`);
    if (op.kind !== 'put' && op.kind !== 'delete' && op.kind !== 'get') bad(`${where}: kind is put, delete or get`);
    if (op.outcome !== 'ok' && op.outcome !== 'failed' && op.outcome !== 'unknown') bad(`${where}: outcome is ok, failed or unknown`);
    if (!Number.isFinite(op.invoked_ms)) bad(`${where}: invoked_ms is a finite time`);
    if (op.completed_ms !== null && !(op.completed_ms >= op.invoked_ms)) bad(`${where}: completed_ms is null or not before invoked_ms`);
    if (op.outcome === 'ok' && op.completed_ms === null) bad(`${where}: an ok op has completed_ms`);
    if (op.kind === 'put' && typeof op.value !== 'string') bad(`${where}: a put records the value it writes`);
    if (op.context !== undefined && typeof op.context !== 'string') bad(`${where}: context is a string`);
    if (op.stored_on !== undefined && !isStrings(op.stored_on)) bad(`${where}: stored_on is an array of node labels`);
    if (op.overwrite !== undefined && (typeof op.overwrite !== 'boolean' || op.kind === 'get')) bad(`${where}: overwrite is a boolean of a write`);
    for (const name of ['superseded', 'replyContext'] as const) {
      if (op[name] !== undefined && typeof op[name] !== 'string') bad(`${where}: ${name} is a string`);
    }
    if (op.outcome !== 'ok') continue;
    if (op.kind === 'get') {
      const { values, versions } = op;
      if (!isStrings(values) || !isStrings(versions) || values.length !== versions.length) {
        bad(`${where}: an ok get records values and versions, parallel string arrays`);
      }
    } else if (typeof op.version !== 'string') {
      bad(`${where}: an ok ${op.kind} records receipt.version`);
    }
  }
}

/** Throw `InvalidRequestError` if a final read or replica listing is malformed. */
export function validateFinalState(final: FinalState): void {
  for (const [key, read] of final.reads) {
    if (!isStrings(read.values) || !isStrings(read.versions) || read.values.length !== read.versions.length) {
      bad(`final read of key ${JSON.stringify(key)}: values and versions are parallel string arrays`);
    }
  }
  for (const [key, replicas] of final.replicas ?? []) {
    for (const [replica, versions] of replicas) {
      if (!isStrings(versions)) bad(`replica ${replica} of key ${JSON.stringify(key)}: versions are strings`);
    }
  }
  for (const crash of final.crashes ?? []) {
    const ok = typeof crash.node === 'string' && Number.isFinite(crash.at_ms) && (crash.restarted_ms === null || crash.restarted_ms >= crash.at_ms);
    if (!ok) bad(`crash record ${JSON.stringify(crash)}: a node label, a finite at_ms and restarted_ms null or not before it`);
  }
  if (final.sync !== undefined && !((final.sync.mode === 'batch' || final.sync.mode === 'periodic') && final.sync.window_ms >= 0)) {
    bad(`sync ${JSON.stringify(final.sync)}: mode batch or periodic and a non-negative window_ms`);
  }
  if (final.dotConflicts !== undefined && !(Number.isSafeInteger(final.dotConflicts) && final.dotConflicts >= 0)) {
    bad(`dotConflicts ${final.dotConflicts} is a non-negative integer`);
  }
}

// ---------------------------------------------------------------------------
// JSON form
// ---------------------------------------------------------------------------

/** Names the format so a wrong file fails loudly; bump the version on any change. */
const FORMAT = 'ringkv-history';
/** 2 (issue 12): ops' overwrite/stored_on/superseded/replyContext, final crashes/sync/dotConflicts, "dot=digest" replicas. */
const FORMAT_VERSION = 2;
/** Versions still read: 1 lacks only optional fields. */
const FORMAT_VERSIONS_READ: readonly unknown[] = [1, 2];

/**
 * A history (and its final state, if any) as JSON text. Maps become arrays of
 * [key, value] pairs, so any key string (even "__proto__") survives.
 */
export function historyToJson(history: readonly HistoryOp[], final?: FinalState): string {
  const finalJson =
    final === undefined
      ? null
      : {
          reads: [...final.reads].map(([key, read]) => [key, { values: read.values, versions: read.versions }]),
          replicas: final.replicas === undefined ? null : [...final.replicas].map(([key, byReplica]) => [key, [...byReplica]]),
          crashes: final.crashes ?? null,
          sync: final.sync ?? null,
          dotConflicts: final.dotConflicts ?? null,
        };
  return JSON.stringify({ format: FORMAT, format_version: FORMAT_VERSION, ops: history, final: finalJson });
}

/** Parse `historyToJson` output; throws `InvalidRequestError` on anything malformed. */
export function historyFromJson(text: string): { ops: HistoryOp[]; final: FinalState | null } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    bad(`a saved history is JSON (${(err as Error).message})`);
  }
  const doc = record(parsed, 'a saved history');
  if (doc['format'] !== FORMAT || !FORMAT_VERSIONS_READ.includes(doc['format_version'])) {
    bad(`a saved history has format "${FORMAT}" version ${FORMAT_VERSIONS_READ.join(' or ')}; save it again with historyToJson`);
  }
  const rawOps = doc['ops'];
  if (!Array.isArray(rawOps)) bad('a saved history has an ops array');
  if (rawOps.length > HISTORY_OPS_MAX) bad(`a history holds at most ${HISTORY_OPS_MAX} ops, this one ${rawOps.length}`);
  const ops = rawOps.map((raw, index) => opFromJson(raw, index));
  validateHistory(ops);
  const final = doc['final'] === null ? null : finalFromJson(doc['final']);
  if (final !== null) validateFinalState(final);
  return { ops, final };
}

/** One op from JSON: only known fields, each of its type. */
function opFromJson(raw: unknown, index: number): HistoryOp {
  const where = `op at index ${index}`;
  const o = record(raw, where);
  const str = (name: string): string | undefined => {
    const v = o[name];
    if (v !== undefined && typeof v !== 'string') bad(`${where}: ${name} is a string`);
    return v;
  };
  const strs = (name: string): string[] | undefined => {
    const v = o[name];
    if (v !== undefined && !isStrings(v)) bad(`${where}: ${name} is an array of strings`);
    return v;
  };
  const num = (name: string): number => {
    const v = o[name];
    if (typeof v !== 'number') bad(`${where}: ${name} is a number`);
    return v;
  };
  const completed = o['completed_ms'];
  if (completed !== null && typeof completed !== 'number') bad(`${where}: completed_ms is a number or null`);
  const ryw = o['ryw'];
  if (ryw !== undefined && typeof ryw !== 'boolean') bad(`${where}: ryw is a boolean`);
  const overwrite = o['overwrite'];
  if (overwrite !== undefined && typeof overwrite !== 'boolean') bad(`${where}: overwrite is a boolean`);
  const op: HistoryOp = {
    id: num('id'),
    client: str('client') ?? bad(`${where}: client is a string`),
    key: str('key') ?? bad(`${where}: key is a string`),
    kind: str('kind') as OpKind,
    invoked_ms: num('invoked_ms'),
    completed_ms: completed,
    outcome: str('outcome') as Outcome,
  };
  const optional = {
    value: str('value'),
    context: str('context'),
    version: str('version'),
    readContext: str('readContext'),
    superseded: str('superseded'),
    replyContext: str('replyContext'),
  };
  for (const [name, value] of Object.entries(optional)) if (value !== undefined) Object.assign(op, { [name]: value });
  const values = strs('values');
  const versions = strs('versions');
  const storedOn = strs('stored_on');
  if (values !== undefined) op.values = values;
  if (versions !== undefined) op.versions = versions;
  if (storedOn !== undefined) op.stored_on = storedOn;
  if (ryw !== undefined) op.ryw = ryw;
  if (overwrite !== undefined) op.overwrite = overwrite;
  return op;
}

/** The final state from JSON. */
function finalFromJson(raw: unknown): FinalState {
  const o = record(raw, 'final state');
  const reads = new Map<string, { values: string[]; versions: string[] }>();
  for (const [key, read] of pairs(o['reads'], 'final reads')) {
    const r = record(read, `final read of ${JSON.stringify(key)}`);
    const { values, versions } = r;
    if (!isStrings(values) || !isStrings(versions)) bad(`final read of ${JSON.stringify(key)}: values and versions are string arrays`);
    reads.set(key, { values, versions });
  }
  const final: FinalState = { reads };
  if (Array.isArray(o['crashes'])) {
    final.crashes = o['crashes'].map((raw: unknown, i: number) => {
      const c = record(raw, `crash record ${i}`);
      const restarted = c['restarted_ms'];
      if (typeof c['node'] !== 'string' || typeof c['at_ms'] !== 'number' || (restarted !== null && typeof restarted !== 'number')) {
        bad(`crash record ${i}: node (string), at_ms (number), restarted_ms (number or null)`);
      }
      return { node: c['node'], at_ms: c['at_ms'], restarted_ms: restarted };
    });
  }
  if (o['sync'] !== null && o['sync'] !== undefined) {
    const sync = record(o['sync'], 'sync');
    if ((sync['mode'] !== 'batch' && sync['mode'] !== 'periodic') || typeof sync['window_ms'] !== 'number') bad('sync is { mode: batch | periodic, window_ms }');
    final.sync = { mode: sync['mode'], window_ms: sync['window_ms'] };
  }
  if (o['dotConflicts'] !== null && o['dotConflicts'] !== undefined) {
    if (typeof o['dotConflicts'] !== 'number') bad('dotConflicts is a number');
    final.dotConflicts = o['dotConflicts'];
  }
  if (o['replicas'] === null || o['replicas'] === undefined) return final;
  const replicas = new Map<string, Map<string, string[]>>();
  for (const [key, byReplica] of pairs(o['replicas'], 'final replicas')) {
    const held = new Map<string, string[]>();
    for (const [replica, versions] of pairs(byReplica, `replicas of ${JSON.stringify(key)}`)) {
      if (!isStrings(versions)) bad(`replica ${replica} of ${JSON.stringify(key)}: versions are strings`);
      held.set(replica, versions);
    }
    replicas.set(key, held);
  }
  final.replicas = replicas;
  return final;
}

/** An array of [string, value] pairs. */
function pairs(raw: unknown, what: string): Array<[string, unknown]> {
  if (!Array.isArray(raw)) bad(`${what} is an array of [key, value] pairs`);
  return raw.map((pair: unknown) => {
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string') bad(`${what} is an array of [key, value] pairs`);
    return [pair[0], pair[1] as unknown];
  });
}

/** `raw` as a plain object. */
function record(raw: unknown, what: string): Record<string, unknown> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) bad(`${what} is a JSON object`);
  return raw as Record<string, unknown>;
}

function isStrings(raw: unknown): raw is string[] {
  return Array.isArray(raw) && raw.every((v) => typeof v === 'string');
}

function bad(detail: string): never {
  throw new InvalidRequestError(detail);
}

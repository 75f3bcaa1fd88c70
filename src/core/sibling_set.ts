/**
 * A key's sibling set as the coordinator handles it: stored versions whose
 * clocks are encoded dotted version vectors (`dotted_version_vector.ts`).
 * Minting a write, reconciling what replicas answered, the context a client
 * gets back, and which versions a stale replica lacks (read repair) are all
 * here, so the coordinator actor only moves messages.
 *
 * Pure: no I/O, no clock (callers pass `now_ms`). Safe from any thread.
 */
import {
  decodeDvv,
  encodeDvv,
  join,
  syncBy,
  update,
  valueDigest,
  type Dvv,
  type VersionVector,
} from './dotted_version_vector.js';
import { InvalidRequestError } from './errors.js';
import { SIBLINGS_MAX } from './limits.js';
import { formatVersion } from './version_id.js';

export type { Version } from './version.js';
import type { Version } from './version.js';

/** A version with its clock decoded once. */
interface Decoded<V extends Version> {
  version: V;
  dvv: Dvv;
}

/**
 * The decoded clock of `version`, decoded once per version object: a read
 * reconciles the replicas' answers, repairs, confirms tombstones and
 * compares identities on the same objects, and decoding each clock every
 * time was ~10% of a node thread under reads. Keyed by the object (clock
 * bytes are never changed in place), so it holds nothing once the version
 * is garbage. The decoded value is shared: callers never modify it.
 */
const decodedClocks = new WeakMap<Version, Dvv>();

function dvvOf(version: Version): Dvv {
  let dvv = decodedClocks.get(version);
  if (dvv === undefined) {
    dvv = decodeDvv(version.clock);
    decodedClocks.set(version, dvv);
  }
  return dvv;
}

function decodeAll<V extends Version>(versions: readonly V[]): Decoded<V>[] {
  return versions.map((version) => ({ version, dvv: dvvOf(version) }));
}

/**
 * Reconcile sibling sets from several replicas: the union minus every version
 * another supersedes, one copy per dot (and digest), sorted by dot. Two
 * versions under one dot with different values are both kept and given to
 * `onConflict` (an invariant violation: `syncBy`).
 */
export function reconcileSets<V extends Version>(sets: readonly (readonly V[])[], onConflict?: (a: V, b: V) => void): V[] {
  let merged: Decoded<V>[] = [];
  const report = onConflict === undefined ? undefined : (a: Decoded<V>, b: Decoded<V>): void => onConflict(a.version, b.version);
  for (const set of sets) merged = syncBy(merged, decodeAll(set), (d) => d.dvv, report);
  return merged.map((d) => d.version);
}

/** What minting a write produced. */
export interface Minted {
  /** The new version. */
  version: Version;
  /** The sibling set after it: what the coordinating replica holds and the other replicas are sent. */
  siblings: Version[];
  /** The new version's dot as text ("actor:counter"). */
  dot: string;
}

/**
 * Mint a write coordinated by `actor` on a replica holding `local`: a new
 * version with a fresh dot whose past is the client's `context`, and the
 * reconciled sibling set after it. The dot's counter is at least
 * `counterFloor` (the node's leased counter: see `requiredCounter`). Refuses
 * (`InvalidRequestError`) when the
 * key would hold more than `siblingsMax` siblings, telling the client to
 * resolve them with a contextual write.
 */
export function mintWrite(
  local: readonly Version[],
  context: VersionVector,
  actor: string,
  value: Uint8Array | null,
  now_ms: number,
  siblingsMax = SIBLINGS_MAX,
  counterFloor = 0,
): Minted {
  const decoded = decodeAll(local);
  // `update` mints one above its floor: the dot gets max(counterFloor, requiredCounter(...)).
  const dvv = update(context, decoded.map((d) => d.dvv), actor, now_ms, Math.max(0, counterFloor - 1), valueDigest(value));
  const version: Version = { clock: encodeDvv(dvv), value, ts_ms: now_ms };
  decodedClocks.set(version, dvv);
  const siblings = syncBy(decoded, [{ version, dvv }], (d) => d.dvv).map((d) => d.version);
  if (siblings.length > siblingsMax) {
    throw new InvalidRequestError(
      `the key would hold ${siblings.length} siblings (limit ${siblingsMax}); read it and write with the returned context to resolve them`,
    );
  }
  return { version, siblings, dot: formatVersion(dvv.dot) };
}

/**
 * The least counter a new dot of `actor` may have on a replica holding
 * `local`, given the writer's `context`: one above every counter of `actor`
 * among them. The node's dot lease (storage/dot_lease.ts) then picks a
 * counter at least this high that it never handed out before, and
 * `mintWrite` takes it as `counterFloor`.
 */
export function requiredCounter(local: readonly Version[], context: VersionVector, actor: string): number {
  let counter = 0;
  for (const e of context) if (e.actor === actor) counter = Math.max(counter, e.counter);
  for (const v of local) {
    const dvv = dvvOf(v);
    if (dvv.dot.actor === actor) counter = Math.max(counter, dvv.dot.counter);
    for (const e of dvv.past) if (e.actor === actor) counter = Math.max(counter, e.counter);
  }
  return counter + 1;
}

/** The causal context of a whole sibling set (tombstones included): what a client carries to its next write. */
export function contextOf(siblings: readonly Version[]): VersionVector {
  return join(siblings.map(dvvOf));
}

/** The dot of each version, as text, in the set's order. */
export function dotsOf(siblings: readonly Version[]): string[] {
  return siblings.map((v) => formatVersion(dvvOf(v).dot));
}

/** The live siblings (tombstones left out): what a read shows as values. */
export function liveSiblings<V extends Version>(siblings: readonly V[]): (V & { value: Uint8Array })[] {
  return siblings.filter((v): v is V & { value: Uint8Array } => v.value !== null);
}

/**
 * True when a replica that answered `held` lacks something of `reconciled`
 * (a version it does not hold and that nothing it holds supersedes is, by
 * construction of `reconciled`, simply missing): read repair sends it the
 * reconciled set. Versions are told apart by dot and digest, so a replica
 * holding one of two conflicting copies of a dot gets the other too.
 */
export function isStale(held: readonly Version[], reconciled: readonly Version[]): boolean {
  const heldIds = new Set(held.map(versionIdentity));
  return reconciled.some((v) => !heldIds.has(versionIdentity(v)));
}

/** A version's dot and digest as one string ("actor:counter=digest"; no digest: "actor:counter="). */
function versionIdentity(version: Version): string {
  const dot = dvvOf(version).dot;
  return `${formatVersion(dot)}=${dot.digest ?? ''}`;
}

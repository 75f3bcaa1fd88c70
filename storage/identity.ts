/**
 * A node's data identity: the epoch its coordinator mints versions under
 * (`actorId(node, epoch)` in `src/core/dotted_version_vector.ts`). It is made
 * the first time a data directory is opened and kept in `<dir>/IDENTITY`; a
 * node whose directory was lost (or whose IDENTITY is) gets a fresh random
 * epoch, so its counters never restart under an identity other replicas have
 * already seen — the cause of Riak's lost writes after "vnode vclock reuse".
 *
 * Layout (12 bytes, little-endian): f64 epoch | u32 xxh32 of the first 8.
 * Written to a temporary file, synced, renamed over, directory synced; the
 * checksum is verified on every read (a bad file is a CorruptionError: the
 * operator decides, ringkv never silently takes a new identity over data).
 */
import { assert } from '../src/core/assert.js';
import { CorruptionError } from '../src/core/errors.js';
import { checksum } from '../src/core/hash.js';
import { joinPath, type FileSystem } from './fs.js';

/** File name of the identity record in a data directory. */
export const IDENTITY_FILE = 'IDENTITY';

/** Epochs are drawn from [0, 2^48): unique across a node's lives with overwhelming probability. */
const EPOCH_RANGE = 2 ** 48;

const RECORD_BYTES = 12;

/** Read the epoch of `dir`, or make and persist a new one from `random()` (a draw in [0, 1)). */
export async function loadOrCreateEpoch(fs: FileSystem, dir: string, random: () => number): Promise<number> {
  const path = joinPath(dir, IDENTITY_FILE);
  if (await fs.exists(path)) return decodeEpoch(await fs.readFile(path), path);
  const epoch = Math.floor(random() * EPOCH_RANGE);
  const record = new Uint8Array(RECORD_BYTES);
  const view = new DataView(record.buffer);
  view.setFloat64(0, epoch, true);
  view.setUint32(8, checksum(record.subarray(0, 8)), true);
  await fs.mkdirp(dir);
  const tmp = `${path}.tmp`;
  const handle = await fs.open(tmp, 'create');
  try {
    await handle.append(record);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(tmp, path);
  await fs.syncDir(dir);
  return epoch;
}

function decodeEpoch(bytes: Uint8Array, path: string): number {
  if (bytes.length !== RECORD_BYTES) throw new CorruptionError(path, -1, `the identity record is ${bytes.length} bytes, expected ${RECORD_BYTES}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(8, true) !== checksum(bytes.subarray(0, 8))) {
    throw new CorruptionError(path, 0, 'the identity record fails its checksum (remove it only together with the node\'s data, so the node rejoins under a new identity)');
  }
  const epoch = view.getFloat64(0, true);
  assert(Number.isSafeInteger(epoch) && epoch >= 0, 'a checksummed epoch is a non-negative integer');
  return epoch;
}

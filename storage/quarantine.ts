/**
 * Quarantine of a damaged SSTable (issue 13): a table one of whose data
 * blocks failed its checksum leaves the live set and moves aside to
 * `<dir>/quarantine/`, never deleted (an operator may inspect it, or delete
 * it once done). Its versions are gone from this replica; the other replicas
 * hold them, and read repair writes each key back here when it is read
 * (hinted handoff covers writes missed meanwhile; there is no anti-entropy
 * yet, so keys never read stay on fewer replicas until written again).
 *
 * Order of the steps, and what a crash between them leaves:
 *   1. rename `<dir>/N.sst` to `<dir>/quarantine/N.sst`, fsync both
 *      directories. A crash now leaves the manifest naming a file that is
 *      not there: `recoverQuarantines` (run at open, before orphan cleanup)
 *      finds it in quarantine/ and finishes step 2.
 *   2. a manifest edit removes table N from the live set.
 * Renaming first means the file is never an orphan that open would delete.
 *
 * Thread contract: the engine's thread only.
 */
import { joinPath, type FileSystem } from './fs.js';
import { sstableFileName, type Manifest } from './manifest.js';

/** Directory, under a store's directory, where damaged tables are kept. */
export const QUARANTINE_DIR = 'quarantine';

/** What quarantining a table moved aside, for the log. */
export interface QuarantineReport {
  /** Where the table was (`<dir>/N.sst`). */
  from: string;
  /** Where it is now (`<dir>/quarantine/N.sst`). */
  to: string;
}

/** Move table `fileNumber` of `manifest`'s store into quarantine and out of the live set (steps 1 and 2). */
export async function quarantineTable(fs: FileSystem, manifest: Manifest, fileNumber: number): Promise<QuarantineReport> {
  const from = manifest.tablePath(fileNumber);
  const quarantine = joinPath(manifest.dir, QUARANTINE_DIR);
  const to = joinPath(quarantine, sstableFileName(fileNumber));
  await fs.mkdirp(quarantine);
  await fs.rename(from, to);
  await fs.syncDir(quarantine);
  await fs.syncDir(manifest.dir);
  await manifest.apply({ remove: [fileNumber] });
  return { from, to };
}

/**
 * At open: finish quarantines a crash interrupted between their rename and
 * their manifest edit (the manifest names a table whose file is missing from
 * the store but present in quarantine/). Told to `report` like data loss.
 */
export async function recoverQuarantines(
  fs: FileSystem,
  manifest: Manifest,
  report: (message: string, fields: Record<string, unknown>) => void,
): Promise<void> {
  const quarantined = new Set(await fs.list(joinPath(manifest.dir, QUARANTINE_DIR)));
  if (quarantined.size === 0) return;
  const present = new Set(await fs.list(manifest.dir));
  const unfinished = manifest.current.tables
    .map((t) => t.file_number)
    .filter((n) => !present.has(sstableFileName(n)) && quarantined.has(sstableFileName(n)));
  if (unfinished.length === 0) return;
  await manifest.apply({ remove: unfinished });
  report('sstable quarantine finished at open: tables moved to quarantine/ before a crash are no longer live', {
    dir: manifest.dir,
    tables: unfinished.map(sstableFileName),
    meaning: 'their versions are gone from this replica; the other replicas hold them and read repair restores each key when it is read',
  });
}

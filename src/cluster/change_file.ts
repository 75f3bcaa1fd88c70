/**
 * A data directory's membership change in progress (issue 16): the
 * driver's saved state (`membership_change.ts` `ChangeState`), so a change
 * interrupted by a crash of the process resumes when the cluster opens
 * again, its transfers from their cursors.
 *
 * File `<dataDir>/CHANGE`, text: a header line with the xxh32 checksum of
 * the JSON body, as the cluster record (`cluster_record.ts`); written
 * atomically (temp file, fsync, rename, fsync the directory), removed when
 * the change is over. A damaged file is refused with what to do.
 *
 * Thread contract: main thread; the caller holds the data directory's lock.
 */
import { join } from 'node:path';
import { checksum } from '../core/hash.js';
import { DataDirError } from '../core/errors.js';
import { RealFileSystem } from '../../storage/real_fs.js';
import type { ChangeState } from './membership_change.js';

const CHANGE_FILE = 'CHANGE';
const CHANGE_TEMP_FILE = 'CHANGE.tmp';
const HEADER = /^ringkv membership change 1 checksum ([0-9a-f]{8})\n/;

/** The saved change of `dataDir`, or null. */
export async function readChange(dataDir: string): Promise<ChangeState | null> {
  const fs = new RealFileSystem();
  const path = join(dataDir, CHANGE_FILE);
  if (!(await fs.exists(path))) return null;
  const text = Buffer.from(await fs.readFile(path)).toString('utf8');
  const header = HEADER.exec(text);
  const body = header ? text.slice(header[0].length) : '';
  const sum = checksum(Buffer.from(body, 'utf8')).toString(16).padStart(8, '0');
  if (!header || sum !== header[1]) {
    throw new DataDirError(
      dataDir,
      'corrupt-record',
      `its membership change file ${path} is damaged (${header ? `checksum ${sum}, header says ${header[1]}` : 'no header line'}); ` +
        'restore it from a backup, or delete it: the change is then forgotten (the ring stays as recorded in CLUSTER) and can be started again',
    );
  }
  return JSON.parse(body) as ChangeState;
}

/** Save `state` (null: remove the file). */
export async function writeChange(dataDir: string, state: ChangeState | null): Promise<void> {
  const fs = new RealFileSystem();
  const path = join(dataDir, CHANGE_FILE);
  if (state === null) {
    if (await fs.exists(path)) await fs.remove(path);
    await fs.syncDir(dataDir);
    return;
  }
  const body = `${JSON.stringify(state)}\n`;
  const temp = join(dataDir, CHANGE_TEMP_FILE);
  const file = await fs.open(temp, 'create');
  try {
    await file.append(Buffer.from(`ringkv membership change 1 checksum ${checksum(Buffer.from(body, 'utf8')).toString(16).padStart(8, '0')}\n${body}`, 'utf8'));
    await file.sync();
  } finally {
    await file.close();
  }
  await fs.rename(temp, path);
  await fs.syncDir(dataDir);
}

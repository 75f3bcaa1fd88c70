/**
 * Replay of one commit-log segment at open (`CommitLog.open`, whose header
 * gives the rules: a torn or corrupt tail of the last segment is cut back,
 * anything wrong earlier is a CorruptionError). The byte-level scan is in
 * `commit_log_format.ts`.
 *
 * Thread contract: the engine's thread, during open.
 */
import { assert } from '../src/core/assert.js';
import type { DroppedTail, RecordPosition, RecoveryReport } from './commit_log.js';
import { ChunkedReader, scanSegment, SEGMENT_HEADER_BYTES, type SegmentScan } from './commit_log_format.js';
import { dirName, type FileSystem } from './fs.js';

/**
 * Replay one segment; cut it back if it is the last and ends torn or corrupt.
 * Returns false when the segment was removed (a last segment without a good
 * header: it never held a record).
 */
export async function recoverSegment(
  fs: FileSystem,
  path: string,
  id: number,
  isLast: boolean,
  recovery: RecoveryReport,
  onRecord: (payload: Uint8Array, position: RecordPosition) => void,
): Promise<boolean> {
  // The last segment is opened writable: a torn or corrupt tail is truncated through this handle.
  const handle = await fs.open(path, isLast ? 'append' : 'read');
  let scan: SegmentScan;
  const size = handle.size();
  try {
    scan = scanSegment(new ChunkedReader(handle), size, path, id, isLast, (payload, offset) => {
      recovery.records += 1;
      onRecord(payload, { segmentId: id, offset });
    });
    if (scan.end >= SEGMENT_HEADER_BYTES) recovery.segments += 1;
    if (scan.end < size && scan.end >= SEGMENT_HEADER_BYTES) {
      await handle.truncate(scan.end);
      await handle.sync(); // before a later segment exists, or this one would read as torn mid-log
    }
  } finally {
    await handle.close();
  }
  assert(scan.stop !== null || scan.end === size, 'a scan ends early only with a reason');
  // An empty segment (end = size = 0) is torn too: its header never made it.
  if (scan.stop !== null) {
    const dropped: DroppedTail = { path, offset: scan.end, droppedBytes: size - scan.end };
    if (scan.stop.kind === 'corrupt') recovery.corruptTail = dropped;
    else recovery.tornTail = dropped;
  }
  if (scan.end >= SEGMENT_HEADER_BYTES) return true;
  // A crash while rolling left a segment without a good header: it never held a record.
  await fs.remove(path);
  await fs.syncDir(dirName(path));
  return false;
}

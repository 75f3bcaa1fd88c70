/**
 * The file-system seam of the storage engine. Every byte the engine reads or
 * writes goes through `FileSystem`, which has two sides:
 *
 * - `real_fs.ts`: node:fs, for production and real-disk tests;
 * - `sim_fs.ts`: in memory, for the simulator and crash tests, where a crash
 *   drops unsynced bytes, a write can be torn at a seeded point and bits can
 *   be flipped.
 *
 * Contract (both sides):
 * - Paths are POSIX-style strings; directories are created with `mkdirp`.
 * - `append` writes at the end of the file; bytes are durable only after
 *   `sync` on that handle returns.
 * - Creating, renaming and removing a file are durable only after `syncDir`
 *   on its parent directory returns (as with fsync on a directory in POSIX).
 * - `readSync` is a positional read that returns exactly the bytes present
 *   (fewer at end of file). It is synchronous on purpose: reads hit the page
 *   cache and an async hop per block would dominate the read path.
 * - `readInto` is the same read into a caller's buffer (no allocation: a
 *   fresh off-heap buffer per block read costs more than the read itself);
 *   it returns how many bytes it placed at `target[0..)`, fewer at end of
 *   file, and leaves the rest of `target` untouched. Optional, so a wrapper
 *   may omit it; callers fall back to `readSync`.
 * - A handle is used by one thread only.
 */

/** An open file. */
export interface FileHandle {
  readonly path: string;
  /** Current size in bytes, including unsynced appends. */
  size(): number;
  /** Up to `length` bytes from `offset` (fewer at end of file). */
  readSync(offset: number, length: number): Uint8Array;
  /** Up to `length` bytes from `offset` into `target[0 .. length)`; returns how many (fewer at end of file). */
  readInto?(offset: number, length: number, target: Uint8Array): number;
  /** Append `bytes` at the end of the file. */
  append(bytes: Uint8Array): Promise<void>;
  /**
   * `append` done on the calling thread (a `write` to the page cache, no
   * thread-pool round trip): the commit log's path when the side has it.
   * Optional: the simulated side models append latency and faults in
   * virtual time and has only `append`.
   */
  appendSync?(bytes: Uint8Array): void;
  /** Make every byte appended so far durable (fsync / fdatasync). */
  sync(): Promise<void>;
  /** Cut the file to `size` bytes (used to drop a torn commit-log tail). */
  truncate(size: number): Promise<void>;
  close(): Promise<void>;
}

/** How to open a file. */
export type OpenMode =
  /** Existing file, read only. */
  | 'read'
  /** Create if missing, keep contents, append at the end. */
  | 'append'
  /** Create, or truncate an existing file to zero, then append. */
  | 'create';

/** A file system: directory operations plus handles. */
export interface FileSystem {
  open(path: string, mode: OpenMode): Promise<FileHandle>;
  /** The whole file at once (small files: manifest). */
  readFile(path: string): Promise<Uint8Array>;
  /** Atomically replace `to` with `from` (POSIX rename). */
  rename(from: string, to: string): Promise<void>;
  /** Remove a file; missing files are not an error. */
  remove(path: string): Promise<void>;
  /** Names (not paths) of the entries in `dir`, sorted; [] if it does not exist. */
  list(dir: string): Promise<string[]>;
  exists(path: string): Promise<boolean>;
  mkdirp(dir: string): Promise<void>;
  /** Make creations, renames and removals in `dir` durable. */
  syncDir(dir: string): Promise<void>;
}

/** Join path parts with '/', as both sides of the seam expect. */
export function joinPath(...parts: string[]): string {
  return parts.join('/').replace(/\/+/g, '/');
}

/** The parent directory of `path`. */
export function dirName(path: string): string {
  const at = path.lastIndexOf('/');
  return at <= 0 ? (at === 0 ? '/' : '.') : path.slice(0, at);
}

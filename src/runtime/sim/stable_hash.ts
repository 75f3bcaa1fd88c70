/**
 * A stable serialization of message content, and its hash, for the
 * simulator's trace. "Stable" means the text depends only on the value, not
 * on how it was built: object keys are sorted, Map and Set entries are sorted
 * by their own serialization, byte arrays are written as hex, and numbers use
 * JavaScript's shortest round-trip form (with -0, NaN and the infinities
 * spelled out). Two equal messages therefore hash the same in any run.
 *
 * Cycles and very deep values are cut at `DEPTH_MAX` rather than recursing
 * without bound; messages are plain data, so neither should occur.
 */
import { hash64 } from '../../core/hash.js';

/** Nesting depth beyond which a value is written as "…" (messages are shallow). */
const DEPTH_MAX = 64;

const encoder = new TextEncoder();

/** The stable text form of `value`. */
export function stableSerialize(value: unknown): string {
  const parts: string[] = [];
  write(value, parts, 0, new Set<object>());
  return parts.join('');
}

/** xxh64 of the stable serialization of `value`, as 16 hex digits. */
export function stableHash(value: unknown): string {
  return hex64(hash64(encoder.encode(stableSerialize(value))));
}

/** A 64-bit hash as 16 lower-case hex digits. */
export function hex64(h: bigint): string {
  return h.toString(16).padStart(16, '0');
}

function write(value: unknown, out: string[], depth: number, path: Set<object>): void {
  if (value === null) return void out.push('null');
  switch (typeof value) {
    case 'undefined':
      return void out.push('undef');
    case 'boolean':
      return void out.push(value ? 'true' : 'false');
    case 'number':
      return void out.push(numberText(value));
    case 'bigint':
      return void out.push(`${value}n`);
    case 'string':
      return void out.push(JSON.stringify(value));
    case 'symbol':
      return void out.push(`sym(${JSON.stringify(value.description ?? '')})`);
    case 'function':
      return void out.push('fn');
    default:
      break;
  }
  const obj = value as object;
  if (depth >= DEPTH_MAX || path.has(obj)) return void out.push('…');
  path.add(obj);
  writeObject(obj, out, depth + 1, path);
  path.delete(obj);
}

function writeObject(obj: object, out: string[], depth: number, path: Set<object>): void {
  if (ArrayBuffer.isView(obj)) {
    const bytes = new Uint8Array(obj.buffer, obj.byteOffset, obj.byteLength);
    return void out.push(`${obj.constructor.name}<${Buffer.from(bytes).toString('hex')}>`);
  }
  if (obj instanceof ArrayBuffer) return void out.push(`ArrayBuffer<${Buffer.from(obj).toString('hex')}>`);
  if (Array.isArray(obj)) {
    out.push('[');
    obj.forEach((item: unknown, i) => {
      if (i > 0) out.push(',');
      write(item, out, depth, path);
    });
    return void out.push(']');
  }
  if (obj instanceof Map) {
    const entries = [...obj.entries()].map(([k, v]) => `${stableOf(k, depth, path)}=>${stableOf(v, depth, path)}`);
    return void out.push(`Map{${entries.sort().join(',')}}`);
  }
  if (obj instanceof Set) {
    const items = [...obj.values()].map((v) => stableOf(v, depth, path));
    return void out.push(`Set{${items.sort().join(',')}}`);
  }
  if (obj instanceof Date) return void out.push(`Date(${obj.getTime()})`);
  if (obj instanceof Error) return void out.push(`${obj.name}(${JSON.stringify(obj.message)})`);
  writeRecord(obj as Record<string, unknown>, out, depth, path);
}

function writeRecord(rec: Record<string, unknown>, out: string[], depth: number, path: Set<object>): void {
  out.push('{');
  const keys = Object.keys(rec).sort();
  keys.forEach((key, i) => {
    if (i > 0) out.push(',');
    out.push(JSON.stringify(key), ':');
    write(rec[key], out, depth, path);
  });
  out.push('}');
}

function stableOf(value: unknown, depth: number, path: Set<object>): string {
  const parts: string[] = [];
  write(value, parts, depth, path);
  return parts.join('');
}

function numberText(n: number): string {
  if (Object.is(n, -0)) return '-0';
  if (Number.isNaN(n)) return 'NaN';
  return String(n);
}

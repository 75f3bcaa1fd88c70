/**
 * Structured logging for actors and the runtime. A `LogSink` receives
 * records; the default one prints warnings and errors to stderr (every level
 * with RINGKV_LOG=debug). Tests pass a capturing sink.
 */
import type { Logger } from './actor.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** One log line, as data. */
export interface LogRecord {
  level: LogLevel;
  /** Who logged: "t2/replica" or "runtime". */
  source: string;
  msg: string;
  fields?: Record<string, unknown>;
}

/** Where log records go. */
export type LogSink = (record: LogRecord) => void;

const LEVEL_RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** A sink that prints records at `minLevel` and above to stderr. */
export function consoleSink(minLevel: LogLevel): LogSink {
  return (rec) => {
    if (LEVEL_RANK[rec.level] < LEVEL_RANK[minLevel]) return;
    const fields = rec.fields ? ' ' + safeJson(rec.fields) : '';
    process.stderr.write(`[${rec.level}] ${rec.source}: ${rec.msg}${fields}\n`);
  };
}

/** The sink used when none is given: level from RINGKV_LOG, default warn. */
export function defaultSink(): LogSink {
  const level = process.env['RINGKV_LOG'];
  return consoleSink(level === 'debug' || level === 'info' || level === 'error' ? level : 'warn');
}

/** A `Logger` that tags every record with `source`. */
export function makeLogger(source: string, sink: LogSink): Logger {
  return {
    debug: (msg, fields) => sink({ level: 'debug', source, msg, ...(fields ? { fields } : {}) }),
    info: (msg, fields) => sink({ level: 'info', source, msg, ...(fields ? { fields } : {}) }),
    warn: (msg, fields) => sink({ level: 'warn', source, msg, ...(fields ? { fields } : {}) }),
    error: (msg, fields) => sink({ level: 'error', source, msg, ...(fields ? { fields } : {}) }),
  };
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_k, v: unknown) => (v instanceof Uint8Array ? `<${v.length} bytes>` : v));
  } catch {
    return String(value);
  }
}

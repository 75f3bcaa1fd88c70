/**
 * In-memory logs of a simulation. Every actor's `ctx.log` and the world's own
 * notes (supervision restarts, crashes) land here, stamped with virtual time,
 * so a test can assert on them and print them when it fails. Bounded by
 * SIM_LOG_LINES_MAX: the oldest lines are dropped first. Printing as they
 * happen is optional.
 *
 * Thread contract: used by the one thread that runs the simulation.
 */
import { assert } from '../../core/assert.js';
import { SIM_LOG_LINES_MAX } from '../../core/limits.js';
import type { Logger } from '../actor.js';

/** Log severity. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** One log line. */
export interface LogLine {
  /** Virtual time (ms) when it was logged. */
  readonly time_ms: number;
  readonly level: LogLevel;
  /** Who logged it: "t2/replica", or "sim" for the world itself. */
  readonly source: string;
  readonly msg: string;
  readonly fields: Record<string, unknown> | undefined;
}

/** A bounded, in-memory collection of log lines. */
export class SimLogBook {
  /** Kept lines, oldest first. */
  private readonly lines: LogLine[] = [];
  /** Lines dropped because the book was full. */
  private droppedLines = 0;

  constructor(
    /** Virtual clock used to stamp lines. */
    private readonly clock: () => number,
    /** Print each line to the console as it is logged. */
    private readonly print: boolean = false,
    /** Lines kept before the oldest are dropped. */
    readonly capacity: number = SIM_LOG_LINES_MAX,
  ) {
    assert(Number.isInteger(capacity) && capacity > 0, 'log capacity is a positive integer');
  }

  /** Append a line. */
  write(level: LogLevel, source: string, msg: string, fields?: Record<string, unknown>): void {
    const line: LogLine = { time_ms: this.clock(), level, source, msg, fields };
    if (this.lines.length >= this.capacity) {
      this.lines.shift();
      this.droppedLines++;
    }
    this.lines.push(line);
    if (this.print) console.log(formatLine(line));
  }

  /** A `Logger` that writes here on behalf of `source`; `alive` gates writes from dead incarnations. */
  logger(source: string, alive: () => boolean = () => true): Logger {
    const at =
      (level: LogLevel) =>
      (msg: string, fields?: Record<string, unknown>): void => {
        if (alive()) this.write(level, source, msg, fields);
      };
    return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  }

  /** The kept lines, optionally only those at `level`. */
  all(level?: LogLevel): LogLine[] {
    return level === undefined ? [...this.lines] : this.lines.filter((l) => l.level === level);
  }

  /** How many lines were dropped for space. */
  get dropped(): number {
    return this.droppedLines;
  }

  /** The last `n` lines as text, for printing on failure. */
  format(n = 50): string {
    return this.lines.slice(-n).map(formatLine).join('\n');
  }
}

/** One line as text: "@12.5 warn t2/replica: msg {fields}". */
export function formatLine(line: LogLine): string {
  const fields = line.fields === undefined ? '' : ` ${safeJson(line.fields)}`;
  return `@${line.time_ms} ${line.level} ${line.source}: ${line.msg}${fields}`;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
  } catch {
    return '[unserializable]';
  }
}

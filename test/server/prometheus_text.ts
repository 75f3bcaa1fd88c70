/**
 * A strict parser of the Prometheus text exposition format (version 0.0.4),
 * for tests: every line must be a HELP or TYPE comment, a blank line, or a
 * sample of a family whose TYPE was declared; anything else throws with the
 * line. Not a general-purpose parser (no timestamps beyond skipping them).
 */

/** One sample line. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A parsed exposition: families' types and every sample. */
export interface Exposition {
  types: Map<string, string>;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

/** Parse `text`; throws on the first line that is not valid exposition format. */
export function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  const lines = text.split('\n');
  if (lines.at(-1) !== '') throw new Error('the exposition does not end with a newline');
  for (const [i, line] of lines.entries()) {
    const where = `line ${i + 1} ${JSON.stringify(line)}`;
    if (line === '') continue;
    if (line.startsWith('#')) {
      const comment = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!comment) throw new Error(`${where}: a comment is not HELP or TYPE`);
      const [, kind, name, rest] = comment as unknown as [string, string, string, string];
      if (!METRIC_NAME.test(name)) throw new Error(`${where}: bad metric name`);
      if (kind === 'TYPE') {
        if (!TYPES.has(rest)) throw new Error(`${where}: unknown type`);
        types.set(name, rest);
      }
      continue;
    }
    const sample = parseSample(line, where);
    const family = [sample.name, sample.name.replace(/_(bucket|sum|count)$/, '')].find((n) => types.has(n));
    if (family === undefined) throw new Error(`${where}: sample of a family with no TYPE line before it`);
    samples.push(sample);
  }
  return { types, samples };
}

/** The value of the one sample named `name` whose labels include `labels`; throws if none or several. */
export function sampleValue(exposition: Exposition, name: string, labels: Record<string, string> = {}): number {
  const found = exposition.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length !== 1) throw new Error(`expected one sample ${name}${JSON.stringify(labels)}, found ${found.length}`);
  return found[0]!.value;
}

function parseSample(line: string, where: string): Sample {
  const head = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
  if (!head) throw new Error(`${where}: no metric name`);
  const name = head[1]!;
  let at = name.length;
  const labels: Record<string, string> = {};
  if (line[at] === '{') {
    at++;
    while (line[at] !== '}') {
      const label = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(line.slice(at));
      if (!label) throw new Error(`${where}: bad label at column ${at}`);
      at += label[0].length;
      let value = '';
      for (;;) {
        const ch = line[at++];
        if (ch === undefined) throw new Error(`${where}: unterminated label value`);
        if (ch === '"') break;
        if (ch === '\\') {
          const escaped = line[at++];
          if (escaped === 'n') value += '\n';
          else if (escaped === '\\' || escaped === '"') value += escaped;
          else throw new Error(`${where}: bad escape in a label value`);
        } else value += ch;
      }
      labels[label[1]!] = value;
      if (line[at] === ',') at++;
      else if (line[at] !== '}') throw new Error(`${where}: expected , or } after a label`);
    }
    at++;
  }
  const rest = /^ (\S+)( -?\d+)?$/.exec(line.slice(at));
  if (!rest) throw new Error(`${where}: no value after the name and labels`);
  const text = rest[1]!;
  // Prometheus reads values with Go's strconv.ParseFloat, which takes Inf and NaN in any case.
  const special = /^([+-]?)(inf|nan)$/i.exec(text);
  const value = special ? (special[2]!.toLowerCase() === 'nan' ? NaN : special[1] === '-' ? -Infinity : Infinity) : Number(text);
  if (Number.isNaN(value) && !special) throw new Error(`${where}: value ${text} is not a number`);
  return { name, labels, value };
}

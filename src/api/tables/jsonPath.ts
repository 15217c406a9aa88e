// The JSONPath subset CRD printer columns use, evaluated as upstream's client-go jsonpath does with missing
// keys allowed: `.spec.replicas`, `.status.conditions[?(@.type=="Ready")].status`, `.items[0]`, `.a[*].b`,
// `['dotted.key']`, `..name`, slices `[1:3]`. A path compiles once and evaluates to every match, in order.

type Json = unknown;

type Literal = string | number | boolean;
interface Operand {
  path?: Step[];
  literal?: Literal;
}

type Step =
  | { op: 'field'; name: string }
  | { op: 'index'; index: number }
  | { op: 'slice'; start?: number; end?: number; step?: number }
  | { op: 'wildcard' }
  | { op: 'recursive' }
  | { op: 'filter'; left: Operand; cmp?: '==' | '!=' | '<' | '>' | '<=' | '>='; right?: Operand };

export class JsonPathError extends Error {
  override readonly name = 'JsonPathError';
}

export interface JsonPath {
  readonly text: string;
  /** Every value the path reaches in `data`; [] when nothing matches. Throws JsonPathError on a failed comparison. */
  find(data: Json): Json[];
}

class Parser {
  private i = 0;
  constructor(private readonly s: string) {}

  parse(): Step[] {
    const steps = this.steps(() => this.i >= this.s.length);
    return steps;
  }

  private fail(what: string): never {
    throw new JsonPathError(`invalid JSONPath ${JSON.stringify(this.s)} at ${this.i}: ${what}`);
  }

  private steps(done: () => boolean): Step[] {
    const steps: Step[] = [];
    this.skipSpace();
    if (this.s[this.i] === '$') this.i++;
    while (!done()) {
      const c = this.s[this.i];
      if (c === '.') {
        this.i++;
        if (this.s[this.i] === '.') {
          this.i++;
          steps.push({ op: 'recursive' });
        }
        if (this.s[this.i] === '*') {
          this.i++;
          steps.push({ op: 'wildcard' });
          continue;
        }
        if (this.s[this.i] === '[') continue;
        const name = this.identifier();
        if (name === '') {
          // A lone `.` (or a trailing one) means "the current value".
          if (steps.length === 0 && done()) break;
          this.fail('expected a field name');
        }
        steps.push({ op: 'field', name });
      } else if (c === '[') {
        steps.push(this.bracket());
      } else {
        this.fail(`unexpected ${JSON.stringify(c)}`);
      }
    }
    return steps;
  }

  private identifier(): string {
    const start = this.i;
    while (this.i < this.s.length && !'.[]() =!<>,\'"'.includes(this.s[this.i]!)) this.i++;
    return this.s.slice(start, this.i);
  }

  private skipSpace(): void {
    while (this.s[this.i] === ' ') this.i++;
  }

  private bracket(): Step {
    this.i++; // [
    this.skipSpace();
    const c = this.s[this.i];
    let step: Step;
    if (c === '*') {
      this.i++;
      step = { op: 'wildcard' };
    } else if (c === "'" || c === '"') {
      step = { op: 'field', name: this.quoted() };
    } else if (c === '?') {
      step = this.filter();
    } else {
      step = this.indexOrSlice();
    }
    this.skipSpace();
    if (this.s[this.i] !== ']') this.fail('expected ]');
    this.i++;
    return step;
  }

  private quoted(): string {
    const q = this.s[this.i]!;
    this.i++;
    let out = '';
    while (this.i < this.s.length && this.s[this.i] !== q) {
      if (this.s[this.i] === '\\' && this.i + 1 < this.s.length) this.i++;
      out += this.s[this.i];
      this.i++;
    }
    if (this.s[this.i] !== q) this.fail('unterminated string');
    this.i++;
    return out;
  }

  private int(): number | undefined {
    const m = /^-?\d+/.exec(this.s.slice(this.i));
    if (!m) return undefined;
    this.i += m[0].length;
    return Number(m[0]);
  }

  private indexOrSlice(): Step {
    const start = this.int();
    if (this.s[this.i] !== ':') {
      if (start === undefined) this.fail('expected an index');
      return { op: 'index', index: start };
    }
    this.i++;
    const end = this.int();
    let step: number | undefined;
    if (this.s[this.i] === ':') {
      this.i++;
      step = this.int();
    }
    const out: Step = { op: 'slice' };
    if (start !== undefined) out.start = start;
    if (end !== undefined) out.end = end;
    if (step !== undefined) out.step = step;
    return out;
  }

  private filter(): Step {
    this.i++; // ?
    if (this.s[this.i] !== '(') this.fail('expected ( after ?');
    this.i++;
    const left = this.operand();
    this.skipSpace();
    let step: Step = { op: 'filter', left };
    const m = /^(==|!=|<=|>=|<|>)/.exec(this.s.slice(this.i));
    if (m) {
      this.i += m[0].length;
      step = { op: 'filter', left, cmp: m[0] as '==', right: this.operand() };
    }
    this.skipSpace();
    if (this.s[this.i] !== ')') this.fail('expected )');
    this.i++;
    return step;
  }

  private operand(): Operand {
    this.skipSpace();
    const c = this.s[this.i];
    if (c === '@') {
      this.i++;
      return { path: this.steps(() => this.i >= this.s.length || ' =!<>)'.includes(this.s[this.i]!)) };
    }
    if (c === "'" || c === '"') return { literal: this.quoted() };
    const num = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(this.s.slice(this.i));
    if (num) {
      this.i += num[0].length;
      return { literal: Number(num[0]) };
    }
    for (const word of ['true', 'false'] as const) {
      if (this.s.startsWith(word, this.i)) {
        this.i += word.length;
        return { literal: word === 'true' };
      }
    }
    return this.fail('expected @path or a literal');
  }
}

function isObject(v: Json): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function descendants(v: Json, out: Json[]): void {
  out.push(v);
  if (Array.isArray(v)) for (const x of v) descendants(x, out);
  else if (isObject(v)) for (const k of Object.keys(v).sort()) descendants(v[k], out);
}

function compare(a: Json, cmp: string, b: Json): boolean {
  const comparable = (typeof a === 'number' && typeof b === 'number') || (typeof a === 'string' && typeof b === 'string');
  if (cmp === '==' || cmp === '!=') {
    if (typeof a !== typeof b) throw new JsonPathError('incompatible types for comparison');
    return cmp === '==' ? a === b : a !== b;
  }
  if (!comparable) throw new JsonPathError('invalid type for comparison');
  const x = a as number | string;
  const y = b as number | string;
  return cmp === '<' ? x < y : cmp === '>' ? x > y : cmp === '<=' ? x <= y : x >= y;
}

function operandValues(o: Operand, item: Json): Json[] {
  return o.path ? evaluate(o.path, [item]) : [o.literal];
}

function applyStep(step: Step, input: Json[]): Json[] {
  const out: Json[] = [];
  for (const v of input) {
    switch (step.op) {
      case 'field':
        if (isObject(v) && Object.prototype.hasOwnProperty.call(v, step.name)) out.push(v[step.name]);
        break;
      case 'index':
        if (Array.isArray(v)) {
          const i = step.index < 0 ? v.length + step.index : step.index;
          if (i >= 0 && i < v.length) out.push(v[i]);
        }
        break;
      case 'slice':
        if (Array.isArray(v)) {
          const norm = (n: number) => Math.min(Math.max(n < 0 ? v.length + n : n, 0), v.length);
          const from = norm(step.start ?? 0);
          const to = norm(step.end ?? v.length);
          const by = step.step && step.step > 0 ? step.step : 1;
          for (let i = from; i < to; i += by) out.push(v[i]);
        }
        break;
      case 'wildcard':
        if (Array.isArray(v)) out.push(...v);
        else if (isObject(v)) for (const k of Object.keys(v).sort()) out.push(v[k]);
        break;
      case 'recursive':
        descendants(v, out);
        break;
      case 'filter': {
        if (!Array.isArray(v)) throw new JsonPathError('only arrays can be filtered');
        for (const item of v) {
          const lefts = operandValues(step.left, item);
          if (lefts.length === 0) continue;
          if (!step.cmp || !step.right) {
            out.push(item);
            continue;
          }
          const rights = operandValues(step.right, item);
          if (rights.length === 0) continue;
          if (lefts.length > 1 || rights.length > 1) throw new JsonPathError('can only compare one element at a time');
          if (compare(lefts[0], step.cmp, rights[0])) out.push(item);
        }
        break;
      }
    }
  }
  return out;
}

function evaluate(steps: readonly Step[], input: Json[]): Json[] {
  return steps.reduce((values, step) => applyStep(step, values), input);
}

/** Compiles a path such as `.status.replicas` (with or without surrounding `{}`). Throws JsonPathError. */
export function compileJsonPath(text: string): JsonPath {
  let body = text.trim();
  if (body.startsWith('{') && body.endsWith('}')) body = body.slice(1, -1);
  const steps = new Parser(body).parse();
  return { text, find: (data) => evaluate(steps, [data]) };
}

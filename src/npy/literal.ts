/**
 * A parsed Python literal, as far as `.npy` headers use them: the header is the `repr` of a dict of
 * strings, booleans and tuples of ints (Python 2 files may write ints as `3L`).
 */
export type PyValue =
  | { readonly kind: 'str'; readonly value: string }
  | { readonly kind: 'int'; readonly value: bigint }
  | { readonly kind: 'bool'; readonly value: boolean }
  | { readonly kind: 'none' }
  | { readonly kind: 'tuple' | 'list'; readonly items: readonly PyValue[] }
  | { readonly kind: 'dict'; readonly entries: readonly (readonly [PyValue, PyValue])[] };

/** Thrown by {@link parsePyLiteral}; `offset` is the character where parsing stopped. */
export class PyLiteralError extends Error {
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(message);
    this.name = 'PyLiteralError';
    this.offset = offset;
  }
}

/**
 * Parses the subset of Python literal syntax found in `.npy` headers (what `ast.literal_eval`
 * accepts for them): dicts, tuples, lists, single- or double-quoted strings with backslash escapes,
 * `True`/`False`/`None` and decimal integers. Surrounding whitespace is ignored. Cost: O(length);
 * nesting depth is bounded so a hostile header cannot overflow the stack.
 */
export function parsePyLiteral(text: string): PyValue {
  const p = new Parser(text);
  const value = p.value(0);
  p.skipSpace();
  if (p.pos !== text.length) throw p.fail('unexpected text after the literal');
  return value;
}

const MAX_DEPTH = 32;

class Parser {
  readonly text: string;
  pos = 0;

  constructor(text: string) {
    this.text = text;
  }

  fail(message: string): PyLiteralError {
    const near = this.text.slice(this.pos, this.pos + 12);
    return new PyLiteralError(
      `${message} at character ${this.pos}${near ? ` (near ${JSON.stringify(near)})` : ''}`,
      this.pos,
    );
  }

  skipSpace(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos]!)) this.pos++;
  }

  value(depth: number): PyValue {
    if (depth > MAX_DEPTH) throw this.fail('literal nested too deeply');
    this.skipSpace();
    const c = this.text[this.pos];
    if (c === undefined) throw this.fail('unexpected end of header');
    if (c === '{') return this.dict(depth);
    if (c === '(') return this.sequence('tuple', ')', depth);
    if (c === '[') return this.sequence('list', ']', depth);
    if (c === "'" || c === '"') return { kind: 'str', value: this.string(c) };
    if (/[-+0-9]/.test(c)) return this.int();
    const word = /^[A-Za-z_]\w*/.exec(this.text.slice(this.pos, this.pos + 16));
    if (word !== null) {
      if (word[0] === 'True' || word[0] === 'False') {
        this.pos += word[0].length;
        return { kind: 'bool', value: word[0] === 'True' };
      }
      if (word[0] === 'None') {
        this.pos += 4;
        return { kind: 'none' };
      }
    }
    throw this.fail('unexpected character');
  }

  dict(depth: number): PyValue {
    this.pos++;
    const entries: (readonly [PyValue, PyValue])[] = [];
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] === '}') {
        this.pos++;
        return { kind: 'dict', entries };
      }
      const key = this.value(depth + 1);
      this.skipSpace();
      if (this.text[this.pos] !== ':') throw this.fail("expected ':'");
      this.pos++;
      entries.push([key, this.value(depth + 1)]);
      this.skipSpace();
      if (this.text[this.pos] === ',') this.pos++;
      else if (this.text[this.pos] !== '}') throw this.fail("expected ',' or '}'");
    }
  }

  sequence(kind: 'tuple' | 'list', close: string, depth: number): PyValue {
    this.pos++;
    const items: PyValue[] = [];
    let sawComma = false;
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] === close) {
        this.pos++;
        // `(3)` is the int 3 in Python, not a tuple; only `(3,)` is a 1-tuple.
        if (kind === 'tuple' && items.length === 1 && !sawComma) return items[0]!;
        return { kind, items };
      }
      items.push(this.value(depth + 1));
      this.skipSpace();
      if (this.text[this.pos] === ',') {
        this.pos++;
        sawComma = true;
      } else if (this.text[this.pos] !== close) throw this.fail(`expected ',' or '${close}'`);
    }
  }

  string(quote: string): string {
    this.pos++;
    let out = '';
    for (;;) {
      const c = this.text[this.pos];
      if (c === undefined || c === '\n') throw this.fail('unterminated string');
      this.pos++;
      if (c === quote) return out;
      if (c !== '\\') {
        out += c;
        continue;
      }
      const e = this.text[this.pos++];
      if (e === undefined) throw this.fail('unterminated string');
      out += e === 'n' ? '\n' : e === 't' ? '\t' : e === 'r' ? '\r' : e === '0' ? '\0' : e;
    }
  }

  int(): PyValue {
    const m = /^[-+]?\d+[lL]?/.exec(this.text.slice(this.pos, this.pos + 64));
    if (m === null) throw this.fail('expected an integer');
    this.pos += m[0].length;
    const digits = m[0].replace(/[lL]$/, '');
    if (/^[-+]?0\d/.test(digits)) throw this.fail('integer with a leading zero');
    return { kind: 'int', value: BigInt(digits) };
  }
}

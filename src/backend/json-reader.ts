/**
 * A streaming JSON reader: the body is fed as it arrives (any chunking) and never held whole.
 * Only the fields a `JsonKeep` pattern names are built into a value; everything else is checked
 * for well-formedness and dropped byte by byte. A hawkBit deploymentBase with pre-signed links is
 * 12-36 KB of which the agent uses a few hundred bytes (ids, versions, two links per artifact), so
 * RAM holds those fields and one string's worth of decoding, whatever the body's size.
 *
 * An explicit container stack instead of recursion: the JS stack stays flat however deep the
 * body nests (the device has creation.stack slots in all), and the depth is bounded separately.
 * Every failure is a typed `backend-protocol` error naming where in the body it happened.
 */
import { TextBuilder } from '../util/bytes.js';
import { OtaError } from '../util/errors.js';

/**
 * Which parts of a body to build: `true` keeps the whole value (bounded by the limits), an
 * object keeps the named members (each with its own pattern), `[p]` keeps every item of an
 * array with pattern `p`. A value whose type differs from its pattern is kept as far as the
 * pattern allows (a string or number as is, a container empty), so the backend's field
 * validators still report the type the server sent.
 */
export type JsonKeep = true | { readonly [member: string]: JsonKeep } | readonly [JsonKeep];

export interface JsonReaderLimits {
  /** Longest kept string (and member name of a kept object), UTF-16 code units. */
  stringMax: number;
  /** Deepest nesting of arrays and objects (kept or not). */
  depthMax: number;
  /** Most items of a kept array, members of a kept object. */
  itemsMax: number;
}

/**
 * Nesting bound: the deepest real body (hawkBit's deploymentBase: deployment.chunks[].artifacts[]
 * ._links.download.href) is 7 levels; a frame is a few slots, so 32 costs little and refuses the
 * `[[[[...` bodies that exist only to exhaust a parser.
 */
export const JSON_DEPTH_MAX = 32;

/**
 * Items of one kept array or object: hawkBit caps at 16 artifacts per chunk; an unbounded kept
 * array of small items (`[0,0,0,...]`, 2 bytes each) would cost a slot per item.
 */
export const JSON_ITEMS_MAX = 64;

/** Characters of a number: a double needs at most 24; longer is refused rather than buffered. */
export const JSON_NUMBER_MAX = 40;

/**
 * Member names of a filtered object longer than this cannot match a pattern's names and are not
 * collected (a server's own long metadata keys are then skipped, not refused).
 */
const PATTERN_NAME_MAX = 64;

const enum S {
  Value, // a value must come (after ':' or ',' in an array, or at the root)
  FirstItem, // after '[': a value or ']'
  FirstMember, // after '{': '"' or '}'
  Member, // after ',' in an object: '"'
  Colon,
  AfterValue, // ',' or the container's end
  Done, // the root value is complete: only whitespace may follow
  String,
  Escape,
  Unicode,
  Number,
  Literal,
}

interface Frame {
  /** The value being built, or undefined when this container is skipped. */
  readonly built: unknown[] | Record<string, unknown> | undefined;
  readonly array: boolean;
  /** Arrays: the pattern of every item. Objects: true or the member patterns. */
  readonly keep: JsonKeep | undefined;
  /** Objects: the current member's name (undefined while skipped or unmatched). */
  name: string | undefined;
  /** Items or members kept (bounded by itemsMax). */
  count: number;
  /** Arrays: the index of the current item (for error paths). */
  index: number;
}

function isWhitespace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

function hexValue(b: number): number {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  const l = b | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
}

const NUMBER_GRAMMAR = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;
const LITERALS = ['true', 'false', 'null'] as const;
const LITERAL_VALUES = [true, false, null] as const;

/**
 * @example
 * const reader = new JsonReader({ id: true, deployment: { chunks: [{ version: true }] } });
 * for (const chunk of body) reader.write(chunk);
 * const value = reader.end();
 */
export class JsonReader {
  readonly #root: JsonKeep | undefined;
  readonly #limits: JsonReaderLimits;
  readonly #stack: Frame[] = [];
  #state = S.Value;
  #value: unknown = undefined;
  #offset = 0;
  // The string being read: its text (when kept), whether it is a member name, its length.
  #text: TextBuilder | undefined;
  #textMax = 0;
  #isName = false;
  #units = 0;
  // UTF-8 sequence in progress inside a string.
  #need = 0;
  #cp = 0;
  #min = 0;
  #hex = 0;
  #hexDigits = 0;
  #number = '';
  #literal = 0;
  #literalAt = 0;
  // Whether the value being read (string, number, literal) is kept.
  #keepScalar = false;

  constructor(keep: JsonKeep = true, limits: Partial<JsonReaderLimits> = {}) {
    this.#root = keep;
    this.#limits = { stringMax: limits.stringMax ?? 2048, depthMax: limits.depthMax ?? JSON_DEPTH_MAX, itemsMax: limits.itemsMax ?? JSON_ITEMS_MAX };
  }

  /** Feed the next bytes of the body. */
  write(bytes: Uint8Array, start = 0, end = bytes.length): void {
    for (let i = start; i < end; i++) {
      const b = bytes[i];
      switch (this.#state) {
        case S.String:
          this.#stringByte(b);
          break;
        case S.Escape:
          this.#escape(b);
          break;
        case S.Unicode: {
          const v = hexValue(b);
          if (v < 0) throw this.#fail('bad \\u escape');
          this.#hex = (this.#hex << 4) | v;
          if (++this.#hexDigits === 4) {
            this.#unit(this.#hex);
            this.#state = S.String;
          }
          break;
        }
        case S.Number:
          if ((b >= 0x30 && b <= 0x39) || b === 0x2e || b === 0x2d || b === 0x2b || b === 0x65 || b === 0x45) {
            if (this.#number.length >= JSON_NUMBER_MAX) throw this.#fail(`number over ${JSON_NUMBER_MAX} characters`);
            this.#number += String.fromCharCode(b);
          } else {
            this.#endNumber();
            this.#structural(b);
          }
          break;
        case S.Literal: {
          const word = LITERALS[this.#literal];
          if (b !== word.charCodeAt(this.#literalAt)) throw this.#fail(`expected ${word}`);
          if (++this.#literalAt === word.length) this.#scalar(LITERAL_VALUES[this.#literal]);
          break;
        }
        default:
          this.#structural(b);
      }
      this.#offset++;
    }
  }

  /** The body ended: its value (only the kept parts), or a typed error if it was not whole JSON. */
  end(): unknown {
    if (this.#state === S.Number && this.#stack.length === 0) this.#endNumber();
    if (this.#state !== S.Done) throw this.#fail('body ends inside a value');
    return this.#value;
  }

  #structural(b: number): void {
    if (isWhitespace(b)) return;
    const state = this.#state;
    if (state === S.Done) throw this.#fail('data after the value');
    if (state === S.AfterValue) {
      const top = this.#stack[this.#stack.length - 1];
      if (b === 0x2c) this.#state = top.array ? S.Value : S.Member;
      else if (b === (top.array ? 0x5d : 0x7d)) this.#close();
      else throw this.#fail(`expected , or ${top.array ? ']' : '}'}`);
      return;
    }
    if (state === S.Colon) {
      if (b !== 0x3a) throw this.#fail('expected :');
      this.#state = S.Value;
      return;
    }
    if (state === S.FirstMember || state === S.Member) {
      if (b === 0x7d && state === S.FirstMember) return this.#close();
      if (b !== 0x22) throw this.#fail('expected a member name');
      const top = this.#stack[this.#stack.length - 1];
      this.#beginString(true, top.built !== undefined);
      return;
    }
    // S.Value or S.FirstItem
    if (b === 0x5d && state === S.FirstItem) return this.#close();
    const keep = this.#childKeep();
    if (b === 0x7b || b === 0x5b) {
      this.#open(b === 0x5b, keep);
    } else if (b === 0x22) {
      this.#keepScalar = keep !== undefined;
      this.#beginString(false, keep !== undefined);
    } else if (b === 0x2d || (b >= 0x30 && b <= 0x39)) {
      this.#keepScalar = keep !== undefined;
      this.#number = String.fromCharCode(b);
      this.#state = S.Number;
    } else {
      const at = b === 0x74 ? 0 : b === 0x66 ? 1 : b === 0x6e ? 2 : -1;
      if (at < 0) throw this.#fail('expected a value');
      this.#keepScalar = keep !== undefined;
      this.#literal = at;
      this.#literalAt = 1;
      this.#state = S.Literal;
    }
  }

  /** The pattern of the value about to start (undefined: skip it). */
  #childKeep(): JsonKeep | undefined {
    const top = this.#stack[this.#stack.length - 1];
    if (top === undefined) return this.#root;
    if (top.built === undefined) return undefined;
    if (top.array) return top.keep;
    if (top.keep === true) return true;
    if (top.name === undefined || top.keep === undefined || Array.isArray(top.keep)) return undefined;
    const members = top.keep as { readonly [member: string]: JsonKeep };
    return Object.prototype.hasOwnProperty.call(members, top.name) ? members[top.name] : undefined;
  }

  #open(array: boolean, keep: JsonKeep | undefined): void {
    if (this.#stack.length >= this.#limits.depthMax) throw this.#fail(`nested deeper than ${this.#limits.depthMax}`);
    let built: unknown[] | Record<string, unknown> | undefined;
    let inner: JsonKeep | undefined;
    if (keep !== undefined) {
      built = array ? [] : {};
      // A pattern of the other container type keeps the container empty (its type is what counts).
      if (keep === true) inner = true;
      else if (Array.isArray(keep) === array) inner = array ? (keep as readonly [JsonKeep])[0] : keep;
    }
    this.#stack.push({ built, array, keep: inner, name: undefined, count: 0, index: 0 });
    this.#state = array ? S.FirstItem : S.FirstMember;
  }

  #close(): void {
    const frame = this.#stack.pop() as Frame;
    this.#complete(frame.built, frame.built !== undefined);
  }

  #scalar(value: unknown): void {
    this.#complete(value, this.#keepScalar);
  }

  /** A value is complete: store it in its container (or as the root). */
  #complete(value: unknown, kept: boolean): void {
    const top = this.#stack[this.#stack.length - 1];
    if (top === undefined) {
      if (kept) this.#value = value;
      this.#state = S.Done;
      return;
    }
    this.#state = S.AfterValue;
    if (kept && top.built !== undefined) this.#store(top, value);
    if (top.array) top.index++;
  }

  #store(top: Frame, value: unknown): void {
    const built = top.built as unknown[] | Record<string, unknown>;
    const name = top.name as string;
    const replaces = !top.array && Object.prototype.hasOwnProperty.call(built, name); // as in JSON.parse
    if (!replaces && top.count >= this.#limits.itemsMax) throw this.#fail(`more than ${this.#limits.itemsMax} ${top.array ? 'items' : 'members'}`);
    if (!replaces) top.count++;
    if (top.array) (built as unknown[]).push(value);
    // defineProperty, not assignment: a member named like an inherited one ("toString") must not
    // hit the frozen prototype, and "__proto__" must stay an own member as JSON.parse makes it.
    else Object.defineProperty(built, name, { value, writable: true, enumerable: true, configurable: true });
  }

  #beginString(isName: boolean, keep: boolean): void {
    this.#isName = isName;
    this.#units = 0;
    this.#need = 0;
    if (keep) {
      const top = this.#stack[this.#stack.length - 1];
      const filtered = isName && top !== undefined && top.keep !== true;
      this.#textMax = filtered ? PATTERN_NAME_MAX : this.#limits.stringMax;
      this.#text = new TextBuilder();
    } else this.#text = undefined;
    this.#state = S.String;
  }

  #stringByte(b: number): void {
    if (this.#need > 0) {
      if ((b & 0xc0) === 0x80) {
        this.#cp = (this.#cp << 6) | (b & 63);
        if (--this.#need === 0) this.#codePoint(this.#cp < this.#min || this.#cp > 0x10ffff || (this.#cp >= 0xd800 && this.#cp <= 0xdfff) ? 0xfffd : this.#cp);
        return;
      }
      // A sequence cut short: replaced, and this byte read on its own (as utf8Decode did).
      this.#need = 0;
      this.#unit(0xfffd);
    }
    if (b === 0x22) return this.#endString();
    if (b === 0x5c) {
      this.#state = S.Escape;
      return;
    }
    if (b < 0x20) throw this.#fail('control character in a string');
    if (b < 0x80) return this.#unit(b);
    if (b >= 0xc2 && b < 0xe0) this.#sequence(1, b & 31, 0x80);
    else if (b >= 0xe0 && b < 0xf0) this.#sequence(2, b & 15, 0x800);
    else if (b >= 0xf0 && b < 0xf5) this.#sequence(3, b & 7, 0x10000);
    else this.#unit(0xfffd);
  }

  #sequence(need: number, cp: number, min: number): void {
    this.#need = need;
    this.#cp = cp;
    this.#min = min;
  }

  #escape(b: number): void {
    this.#state = S.String;
    switch (b) {
      case 0x22:
      case 0x5c:
      case 0x2f:
        return this.#unit(b);
      case 0x62:
        return this.#unit(8);
      case 0x66:
        return this.#unit(12);
      case 0x6e:
        return this.#unit(10);
      case 0x72:
        return this.#unit(13);
      case 0x74:
        return this.#unit(9);
      case 0x75:
        this.#hex = 0;
        this.#hexDigits = 0;
        this.#state = S.Unicode;
        return;
      default:
        throw this.#fail('bad escape');
    }
  }

  #codePoint(cp: number): void {
    if (cp >= 0x10000) {
      cp -= 0x10000;
      this.#unit(0xd800 + (cp >> 10));
      this.#unit(0xdc00 + (cp & 0x3ff));
    } else this.#unit(cp);
  }

  #unit(unit: number): void {
    const text = this.#text;
    if (text === undefined) return;
    if (++this.#units > this.#textMax) {
      if (this.#isName && this.#textMax === PATTERN_NAME_MAX) {
        this.#text = undefined; // cannot be a pattern's name: the member is skipped
        return;
      }
      throw this.#fail(`string over ${this.#textMax} characters`);
    }
    text.push(unit);
  }

  #endString(): void {
    if (this.#need > 0) this.#unit(0xfffd);
    const text = this.#text === undefined ? undefined : this.#text.done();
    this.#text = undefined;
    if (this.#isName) {
      const top = this.#stack[this.#stack.length - 1];
      top.name = text;
      this.#state = S.Colon;
    } else this.#scalar(text);
  }

  #endNumber(): void {
    const text = this.#number;
    this.#number = '';
    if (!NUMBER_GRAMMAR.test(text)) throw this.#fail(`bad number '${text}'`);
    this.#scalar(Number(text));
  }

  /** A typed error naming where in the body (the path of member names and indexes, the byte). */
  #fail(what: string): OtaError {
    let path = '$';
    for (const frame of this.#stack) {
      if (frame.array) path += `[${frame.index}]`;
      else if (frame.name !== undefined) path += `.${frame.name.slice(0, 32)}`;
    }
    return new OtaError('backend-protocol', `body is not JSON at byte ${this.#offset} (${path}): ${what}`);
  }
}

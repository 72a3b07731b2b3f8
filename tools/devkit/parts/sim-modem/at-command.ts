/**
 * AT command line parsing for the simulator (V.25ter syntax as SIMCom uses it).
 *
 * `AT+NAME` exec, `AT+NAME?` read, `AT+NAME=?` test, `AT+NAME=<args>` set; basic commands
 * (`ATE0`, `ATI`, `AT&W`) are a letter (or `&` + letter) and an optional number. One command per
 * line: concatenation with `;` is not simulated (no driver in the reference uses it).
 */
export type CommandKind = 'exec' | 'read' | 'test' | 'set';

export interface AtCommand {
  /** The line as received, without CR/LF. */
  readonly raw: string;
  /** Upper-case name without `AT`: `+SHREQ`, `E`, `I`, `&W`; `` for plain `AT`. */
  readonly name: string;
  readonly kind: CommandKind;
  /** Arguments of a set command, quotes removed. */
  readonly args: string[];
  /** Which arguments were quoted strings. */
  readonly quoted: boolean[];
}

/** Parses one command line; undefined when it is not an AT command at all. */
export function parseCommand(raw: string): AtCommand | undefined {
  if (raw.length < 2 || raw.slice(0, 2).toUpperCase() !== 'AT') return undefined;
  const rest = raw.slice(2);
  if (rest.length === 0) return { raw, name: '', kind: 'exec', args: [], quoted: [] };
  const c = rest[0];
  if (c === '+' || c === '*' || c === '$') {
    const m = /^([+*$][A-Za-z0-9_]+)(.*)$/s.exec(rest);
    if (!m) return { raw, name: rest.toUpperCase(), kind: 'exec', args: [], quoted: [] };
    const name = m[1].toUpperCase();
    const tail = m[2];
    if (tail === '') return { raw, name, kind: 'exec', args: [], quoted: [] };
    if (tail === '?') return { raw, name, kind: 'read', args: [], quoted: [] };
    if (tail === '=?') return { raw, name, kind: 'test', args: [], quoted: [] };
    if (tail.startsWith('=')) {
      const split = splitArgs(tail.slice(1));
      if (!split) return { raw, name: name + '!', kind: 'set', args: [], quoted: [] };
      return { raw, name, kind: 'set', args: split.args, quoted: split.quoted };
    }
    return { raw, name: name + tail.toUpperCase(), kind: 'exec', args: [], quoted: [] };
  }
  const m = /^(&?[A-Za-z])(\d*)(\?)?$/.exec(rest);
  if (!m) return { raw, name: rest.toUpperCase(), kind: 'exec', args: [], quoted: [] };
  const name = m[1].toUpperCase();
  if (m[3]) return { raw, name, kind: 'read', args: [], quoted: [] };
  if (m[2] !== '') return { raw, name, kind: 'set', args: [m[2]], quoted: [false] };
  return { raw, name, kind: 'exec', args: [], quoted: [] };
}

/** Splits `1,"a,b",,3` into `['1','a,b','','3']`; undefined on an unterminated quote. */
export function splitArgs(text: string): { args: string[]; quoted: boolean[] } | undefined {
  const args: string[] = [];
  const quoted: boolean[] = [];
  let i = 0;
  for (;;) {
    while (text[i] === ' ') i++;
    if (text[i] === '"') {
      const end = text.indexOf('"', i + 1);
      if (end < 0) return undefined;
      args.push(text.slice(i + 1, end));
      quoted.push(true);
      i = end + 1;
      while (text[i] === ' ') i++;
    } else {
      let end = text.indexOf(',', i);
      if (end < 0) end = text.length;
      args.push(text.slice(i, end).trim());
      quoted.push(false);
      i = end;
    }
    if (i >= text.length) break;
    if (text[i] !== ',') return undefined;
    i++;
  }
  return { args, quoted };
}

/** An integer argument in [min, max], or undefined. */
export function intArg(cmd: AtCommand, index: number, min: number, max: number): number | undefined {
  const s = cmd.args[index];
  if (s === undefined || !/^-?\d+$/.test(s)) return undefined;
  const n = Number(s);
  return n >= min && n <= max ? n : undefined;
}

/** Verbose `+CME ERROR` texts for `AT+CMEE=2` (3GPP TS 27.007 §9.2.1). */
export const CME_TEXT: Record<number, string> = {
  3: 'operation not allowed',
  4: 'operation not supported',
  10: 'SIM not inserted',
  13: 'SIM failure',
  14: 'SIM busy',
  30: 'no network service',
  50: 'incorrect parameters',
  100: 'unknown',
};

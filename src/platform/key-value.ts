/**
 * Persistent key-value store for the agent's journal, shaped after ECMA-419
 * `embedded:storage/key-value` (Moddable `preference` on older ports).
 *
 * Values are short strings (the binding documents its limit: `maxValueLength`). `write` throws
 * when the value was not stored: the journal must know (style anti-pattern 6).
 */
export interface KeyValuePort {
  readonly maxValueLength: number;
  read(key: string): string | undefined;
  write(key: string, value: string): void;
  delete(key: string): void;
}

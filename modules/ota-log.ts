/**
 * LogPort on Moddable's `trace` (to xsbug in a debug build, to the serial console otherwise;
 * a release build drops console output: documentation/devices/zephyr.md, "Build Types").
 * One line per event: `ota <level> <event> key=value ...`, values quoted when they hold spaces.
 */
import type { LogFields, LogLevel, LogPort } from 'xs-ota';

export type TraceFunction = (text: string) => void;

export class TraceLog implements LogPort {
  readonly #trace: TraceFunction;
  readonly #minimum: number;

  constructor(trace: TraceFunction, minimum: LogLevel = 'info') {
    this.#trace = trace;
    this.#minimum = rank(minimum);
  }

  log(level: LogLevel, event: string, fields?: LogFields): void {
    if (rank(level) < this.#minimum) return;
    let line = `ota ${level} ${event}`;
    if (fields !== undefined) {
      for (const key of Object.keys(fields)) {
        const value = fields[key];
        if (value === undefined) continue;
        const text = String(value);
        line += ` ${key}=${/[\s"]/.test(text) ? JSON.stringify(text) : text}`;
      }
    }
    this.#trace(`${line}\n`);
  }
}

function rank(level: LogLevel): number {
  switch (level) {
    case 'debug':
      return 0;
    case 'info':
      return 1;
    case 'warn':
      return 2;
    case 'error':
      return 3;
  }
}

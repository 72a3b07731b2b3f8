/**
 * Structured log sink. Events are short stable names (`download.resume`), fields are flat.
 * The device binding prints them with `trace`; the dev kit collects them.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, string | number | boolean | undefined>;

export interface LogPort {
  log(level: LogLevel, event: string, fields?: LogFields): void;
}

/**
 * modules/ota-serial.ts `onError` as Moddable's Zephyr serial binding really calls it
 * (modules/io/serial/zephyr/serial.c passes `serial->lastError`): -ENOMEM for an RX ring
 * overflow, `uart_err_check()`'s positive UART_ERROR_* bitmask, or -ENOSYS on every interrupt on
 * drivers without err_check. Only -ENOMEM and UART_ERROR_OVERRUN lose bytes.
 */
import assert from 'node:assert/strict';
import { register } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { LogFields, LogLevel } from '../../../src/platform/index.js';
import { FakeZephyrSerial } from '../../support/moddable-fakes.js';
import { repoRoot } from '../../support/paths.js';

type SerialModule = typeof import('../../../modules/ota-serial.js');

const bundleUrl = pathToFileURL(path.join(repoRoot, 'dist', 'xs-ota.mjs')).href;
const hook = `export async function resolve(specifier, context, next) {
  if (specifier === 'xs-ota') return { url: ${JSON.stringify(bundleUrl)}, shortCircuit: true };
  return next(specifier, context);
}`;

describe('Moddable serial port: onError as the Zephyr binding calls it', () => {
  let m: SerialModule;
  before(async () => {
    register(`data:text/javascript,${encodeURIComponent(hook)}`);
    m = await import(pathToFileURL(path.join(repoRoot, 'build', 'modules', 'ota-serial.js')).href);
  });

  function open() {
    FakeZephyrSerial.instances = [];
    const logged: { level: LogLevel; event: string; fields?: LogFields }[] = [];
    const port = new m.ModdableSerial(FakeZephyrSerial, { port: 'uart1', baud: 115200, log: { log: (level, event, fields) => logged.push({ level, event, fields }) } });
    const lost: string[] = [];
    port.attach({ onError: (e) => lost.push(e.message) });
    const binding = FakeZephyrSerial.instances[0];
    return { lost, logged, raise: (errno: number) => binding.options.onError?.(errno) };
  }

  it('uses the values of Zephyr uart.h and errno.h', () => {
    assert.deepEqual([m.UART_ERROR_OVERRUN, m.UART_ERROR_PARITY, m.UART_ERROR_FRAMING, m.UART_BREAK, m.UART_ERROR_COLLISION, m.UART_ERROR_NOISE], [1, 2, 4, 8, 16, 32]);
    assert.deepEqual([m.ENOMEM, m.ENOSYS], [12, 88]);
  });

  it('passes an RX ring overflow (-ENOMEM) on as lost bytes', () => {
    const s = open();
    s.raise(-12);
    assert.deepEqual(s.lost, ['uart uart1 error -12']);
    assert.deepEqual(s.logged, []);
  });

  it('passes a hardware overrun on, alone or with other bits', () => {
    const s = open();
    s.raise(m.UART_ERROR_OVERRUN);
    s.raise(m.UART_ERROR_OVERRUN | m.UART_ERROR_FRAMING);
    assert.deepEqual(s.lost, ['uart uart1 error 1', 'uart uart1 error 5']);
  });

  it('logs, once each, and does not pass on errors that lose no bytes (parity, framing, break, noise, -ENOSYS)', () => {
    const s = open();
    for (let i = 0; i < 50; i++) s.raise(-88); // every interrupt on a driver without err_check
    s.raise(m.UART_ERROR_PARITY);
    s.raise(m.UART_ERROR_FRAMING | m.UART_ERROR_NOISE);
    s.raise(m.UART_BREAK);
    s.raise(m.UART_ERROR_PARITY);
    assert.deepEqual(s.lost, []);
    assert.deepEqual(
      s.logged.map((l) => [l.level, l.event, l.fields?.errno, l.fields?.detail]),
      [
        ['warn', 'uart.error.ignored', -88, 'no error check in the driver (-ENOSYS)'],
        ['warn', 'uart.error.ignored', 2, 'line error parity (0x2)'],
        ['warn', 'uart.error.ignored', 36, 'line error framing+noise (0x24)'],
        ['warn', 'uart.error.ignored', 8, 'line error break (0x8)'],
      ],
    );
  });

  it('names what each value means', () => {
    assert.equal(m.describeSerialError(-12), 'rx ring overflow (-ENOMEM)');
    assert.equal(m.describeSerialError(5), 'line error overrun+framing (0x5)');
    assert.equal(m.describeSerialError(0x41), 'line error overrun+0x40 (0x41)');
    assert.equal(m.describeSerialError(-5), 'error -5');
  });

  it('classifies every value the binding can pass', () => {
    assert.equal(m.serialErrorLosesBytes(-12), true);
    assert.equal(m.serialErrorLosesBytes(-88), false);
    assert.equal(m.serialErrorLosesBytes(-5), false);
    for (let mask = 1; mask < 64; mask++) assert.equal(m.serialErrorLosesBytes(mask), (mask & 1) === 1, `mask ${mask}`);
  });
});

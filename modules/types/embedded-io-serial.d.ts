/**
 * `embedded:io/serial` as @moddable/typings 5.6.0 declares it (embedded_io/serial.d.ts, also the
 * SDK's typings/embedded_io/serial.d.ts), with the one fix strict TypeScript 7 needs: `set()` had
 * no return type (TS7010). Used instead of the package file; main.ts casts the constructor to the
 * Zephyr binding's real options (modules/ota-zephyr-io.ts).
 */
declare module 'embedded:io/serial' {
  import type { Buffer, PinSpecifier, PortSpecifier } from 'embedded:io/_common';
  class Serial {
    constructor(
      options: (
        | {
            receive: PinSpecifier;
            transmit?: PinSpecifier;
          }
        | {
            receive?: PinSpecifier;
            transmit: PinSpecifier;
          }
      ) & {
        baud: number;
        flowControl?: 'hardware' | 'none';
        dataTerminalReady?: PinSpecifier;
        requestToSend?: PinSpecifier;
        clearToSend?: PinSpecifier;
        dataSetReady?: PinSpecifier;
        port: PortSpecifier;
        onReadable?: (this: Serial, bytes: number) => void;
        onWritable?: (this: Serial, bytes: number) => void;
        format?: 'number' | 'buffer';
        target?: any;
      },
    );
    readonly resolution: number;
    close(): void;
    read(): number | ArrayBuffer | undefined;
    read(byteLength: number): ArrayBuffer | undefined;
    read(buffer: Buffer): number | undefined;
    write(value: number | Buffer): void;
    flush(): void;
    flush(input: number, output: number): void;
    set(options: { dataTerminalReady?: PinSpecifier; requestToSend?: PinSpecifier; break?: boolean }): void;
    get format(): 'number' | 'buffer';
    set format(value: 'number' | 'buffer');
  }

  export default Serial;
}

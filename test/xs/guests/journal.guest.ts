/**
 * XS guest: the journal, its record store and CRC-32 inside the XS engine, over the key-value
 * port served by the host (a SimKeyValue with the device's 255-byte limit). The spec in
 * test/xs/journal.spec.ts drives it and injects power cuts between calls.
 */
import { Journal, journalText, type JournalRecord } from '../../../src/agent/journal.js';
import { crc32, crc32Ascii } from '../../../src/util/crc32.js';
import { OtaError } from '../../../src/util/errors.js';
import { expose } from '../../../tools/xs/guest/bridge.js';
import { remoteKeyValue } from '../../../tools/xs/guest/ports.js';

const keyValue = remoteKeyValue();
/** Made at the first call: the host serves the key-value port only after the bundle started. */
let journal: Journal | undefined;

expose({
  crc32: (args: { bytes: Uint8Array }) => crc32(args.bytes),
  crc32Ascii: (args: { text: string }) => crc32Ascii(args.text),
  /** A new Journal on the same store (a reboot), loaded. */
  reboot: () => {
    journal = new Journal(keyValue);
    return journal.load();
  },
  save: (args: { record: Omit<JournalRecord, 'v' | 'writes'> }) => {
    try {
      journal ??= new Journal(keyValue);
      const saved = journal.save(args.record);
      return { saved, text: journalText(saved), writes: journal.writeCounts.lastSave };
    } catch (error) {
      if (error instanceof OtaError) return { error: error.reason, message: error.message };
      throw error;
    }
  },
});

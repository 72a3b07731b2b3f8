/**
 * The anti-rollback floor (MCUboot SEC_CNT, `MCUBOOT_HW_ROLLBACK_PROT`): the lowest security
 * counter an image may carry to be installed. It is the highest of
 * - the running image's own SEC_CNT (an image below it is a rollback of a fix the device has);
 * - the highest counter of an image this agent confirmed, kept in the key-value store, so that a
 *   downgrade that was allowed (allowDowngrade) never lowers it;
 * - a configured floor (provisioning).
 * One value of a few characters in its own key, written only when it rises (wear: once per update
 * that raises the counter).
 */
import type { KeyValuePort } from '../platform/key-value.js';
import { OtaError } from '../util/errors.js';

/** The key of the highest confirmed counter (decimal text). */
export const SECURITY_FLOOR_KEY = 'xs-ota.seccnt';

/** SEC_CNT is a 32-bit TLV (MCUboot `IMAGE_TLV_SEC_CNT`, bootutil image.h). */
const SEC_CNT_MAX = 0xffffffff;

export class SecurityFloor {
  #kv: KeyValuePort;

  constructor(kv: KeyValuePort) {
    this.#kv = kv;
  }

  /** The highest confirmed counter stored, 0 when none. A stored value that is not a counter is an error. */
  stored(): number {
    const text = this.#kv.read(SECURITY_FLOOR_KEY);
    if (text === undefined) return 0;
    if (!/^[0-9]{1,10}$/.test(text) || Number(text) > SEC_CNT_MAX) throw new OtaError('journal-invalid', `${SECURITY_FLOOR_KEY}: '${text.slice(0, 16)}' is not a security counter`);
    return Number(text);
  }

  /** The floor: the highest of the stored counter, the running image's and the configured one. */
  floor(running: number | undefined, configured: number | undefined): number {
    return Math.max(this.stored(), running ?? 0, configured ?? 0);
  }

  /** After an image with `counter` was confirmed: keep it if it is higher than what is stored. */
  raise(counter: number | undefined): void {
    if (counter === undefined || !Number.isInteger(counter) || counter < 0 || counter > SEC_CNT_MAX) return;
    if (counter <= this.stored()) return;
    this.#kv.write(SECURITY_FLOOR_KEY, String(counter));
  }
}

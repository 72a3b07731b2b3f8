/**
 * RebootPort on Zephyr's sys_reboot(SYS_REBOOT_COLD) (include/zephyr/sys/reboot.h: COLD = 1;
 * needs CONFIG_REBOOT=y), reached through `mc/ffi`. Moddable's System.restart() does not reset
 * on the Zephyr port (it loops forever), and MCUboot only acts on the slot trailers at boot, so a
 * real reset is required. The function is handed in by main.ts, which resolves it once at
 * start-up and fails there, by name, when the build does not bind it.
 */
import type { LogPort, RebootPort } from 'xs-ota';

/** include/zephyr/sys/reboot.h */
export const SYS_REBOOT_COLD = 1;

export class ZephyrReboot implements RebootPort {
  readonly #sysReboot: (type: number) => void;
  readonly #log: LogPort;

  constructor(sysReboot: (type: number) => void, log: LogPort) {
    this.#sysReboot = sysReboot;
    this.#log = log;
  }

  reboot(reason: string): void {
    this.#log.log('warn', 'system.reboot', { reason });
    this.#sysReboot(SYS_REBOOT_COLD); // does not return on hardware
  }
}

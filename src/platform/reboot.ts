/**
 * System reset (Zephyr `sys_reboot(SYS_REBOOT_COLD)` through `mc/ffi` on the device): MCUboot
 * runs next and acts on the slots' trailers. Does not return on hardware; in a simulator it
 * returns after scheduling the reset, and the caller must not touch the platform afterwards.
 */
export interface RebootPort {
  reboot(reason: string): void;
}

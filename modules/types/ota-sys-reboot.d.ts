/** modules/native/ota-sys-reboot.js: Zephyr sys_reboot(type) as a host function. Does not return. */
declare module 'ota-sys-reboot' {
  export default function sysReboot(type: number): void;
}

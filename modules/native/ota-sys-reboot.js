/*
 * xs-ota: Zephyr sys_reboot for the RebootPort (modules/ota-reboot.ts). A host function, the
 * binding form Moddable's own modules use (e.g. modules/io/storage/zephyr/storage-zephyr.js).
 */
function sysReboot(type) @ "xs_ota_sys_reboot";

export default sysReboot;

var __classPrivateFieldSet = (this && this.__classPrivateFieldSet) || function (receiver, state, value, kind, f) {
    if (kind === "m") throw new TypeError("Private method is not writable");
    if (kind === "a" && !f) throw new TypeError("Private accessor was defined without a setter");
    if (typeof state === "function" ? receiver !== state || !f : !state.has(receiver)) throw new TypeError("Cannot write private member to an object whose class did not declare it");
    return (kind === "a" ? f.call(receiver, value) : f ? f.value = value : state.set(receiver, value)), value;
};
var __classPrivateFieldGet = (this && this.__classPrivateFieldGet) || function (receiver, state, kind, f) {
    if (kind === "a" && !f) throw new TypeError("Private accessor was defined without a getter");
    if (typeof state === "function" ? receiver !== state || !f : !state.has(receiver)) throw new TypeError("Cannot read private member from an object whose class did not declare it");
    return kind === "m" ? f : kind === "a" ? f.call(receiver) : f ? f.value : state.get(receiver);
};
var _ZephyrReboot_sysReboot, _ZephyrReboot_log;
/** include/zephyr/sys/reboot.h */
export const SYS_REBOOT_COLD = 1;
export class ZephyrReboot {
    constructor(sysReboot, log) {
        _ZephyrReboot_sysReboot.set(this, void 0);
        _ZephyrReboot_log.set(this, void 0);
        __classPrivateFieldSet(this, _ZephyrReboot_sysReboot, sysReboot, "f");
        __classPrivateFieldSet(this, _ZephyrReboot_log, log, "f");
    }
    reboot(reason) {
        __classPrivateFieldGet(this, _ZephyrReboot_log, "f").log('warn', 'system.reboot', { reason });
        __classPrivateFieldGet(this, _ZephyrReboot_sysReboot, "f").call(this, SYS_REBOOT_COLD); // does not return on hardware
    }
}
_ZephyrReboot_sysReboot = new WeakMap(), _ZephyrReboot_log = new WeakMap();
//# sourceMappingURL=ota-reboot.js.map
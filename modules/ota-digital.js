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
var _ModdableDigitalOut_io, _NoPowerKey_log;
export class ModdableDigitalOut {
    constructor(Digital, pin, initial) {
        _ModdableDigitalOut_io.set(this, void 0);
        __classPrivateFieldSet(this, _ModdableDigitalOut_io, new Digital({ pin, mode: Digital.Output }), "f");
        __classPrivateFieldGet(this, _ModdableDigitalOut_io, "f").write(initial);
    }
    write(value) {
        __classPrivateFieldGet(this, _ModdableDigitalOut_io, "f").write(value);
    }
    close() {
        __classPrivateFieldGet(this, _ModdableDigitalOut_io, "f").close();
    }
}
_ModdableDigitalOut_io = new WeakMap();
/** The modem is powered and started by hardware; pressing PWRKEY is not possible here. */
export class NoPowerKey {
    constructor(log) {
        _NoPowerKey_log.set(this, void 0);
        __classPrivateFieldSet(this, _NoPowerKey_log, log, "f");
    }
    write(value) {
        __classPrivateFieldGet(this, _NoPowerKey_log, "f").log('warn', 'modem.pwrkey-not-wired', { value });
    }
}
_NoPowerKey_log = new WeakMap();
//# sourceMappingURL=ota-digital.js.map
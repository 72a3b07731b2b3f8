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
var _ModdableI2c_io, _ModdableI2c_lastError;
export class ModdableI2c {
    constructor(I2C, options) {
        _ModdableI2c_io.set(this, void 0);
        _ModdableI2c_lastError.set(this, void 0);
        this.address = options.address;
        __classPrivateFieldSet(this, _ModdableI2c_io, new I2C({ port: options.port, address: options.address, hz: options.hz }), "f");
    }
    /** Message of the last transfer that failed (NACK or bus fault), for diagnostics. */
    get lastError() {
        return __classPrivateFieldGet(this, _ModdableI2c_lastError, "f");
    }
    write(bytes) {
        try {
            __classPrivateFieldGet(this, _ModdableI2c_io, "f").write(bytes);
            return true;
        }
        catch (error) {
            __classPrivateFieldSet(this, _ModdableI2c_lastError, describe(error), "f");
            return false;
        }
    }
    read(into) {
        try {
            __classPrivateFieldGet(this, _ModdableI2c_io, "f").read(into);
            return true;
        }
        catch (error) {
            __classPrivateFieldSet(this, _ModdableI2c_lastError, describe(error), "f");
            return false;
        }
    }
    /** Write then read with a repeated START (Zephyr i2c_write_read). `false` on NACK/fault. */
    writeRead(bytes, into) {
        try {
            __classPrivateFieldGet(this, _ModdableI2c_io, "f").writeRead(bytes, into);
            return true;
        }
        catch (error) {
            __classPrivateFieldSet(this, _ModdableI2c_lastError, describe(error), "f");
            return false;
        }
    }
    close() {
        __classPrivateFieldGet(this, _ModdableI2c_io, "f").close();
    }
}
_ModdableI2c_io = new WeakMap(), _ModdableI2c_lastError = new WeakMap();
function describe(error) {
    return error instanceof Error ? error.message : String(error);
}
//# sourceMappingURL=ota-i2c.js.map
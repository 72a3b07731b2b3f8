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
var _ModdableSerial_instances, _ModdableSerial_Serial, _ModdableSerial_port, _ModdableSerial_io, _ModdableSerial_events, _ModdableSerial_baud, _ModdableSerial_writable, _ModdableSerial_readable, _ModdableSerial_open, _ModdableSerial_opened;
export class ModdableSerial {
    constructor(Serial, options) {
        _ModdableSerial_instances.add(this);
        _ModdableSerial_Serial.set(this, void 0);
        _ModdableSerial_port.set(this, void 0);
        _ModdableSerial_io.set(this, void 0);
        _ModdableSerial_events.set(this, {});
        _ModdableSerial_baud.set(this, void 0);
        /** Free TX ring bytes as of the last onWritable, less what was written since. */
        _ModdableSerial_writable.set(this, 0);
        /** Bytes known to be in the RX ring (a lower bound: more may have arrived since). */
        _ModdableSerial_readable.set(this, 0);
        __classPrivateFieldSet(this, _ModdableSerial_Serial, Serial, "f");
        __classPrivateFieldSet(this, _ModdableSerial_port, options.port, "f");
        __classPrivateFieldSet(this, _ModdableSerial_baud, options.baud, "f");
        __classPrivateFieldSet(this, _ModdableSerial_io, __classPrivateFieldGet(this, _ModdableSerial_instances, "m", _ModdableSerial_open).call(this), "f");
    }
    attach(events) {
        __classPrivateFieldSet(this, _ModdableSerial_events, events, "f");
    }
    read(into) {
        const io = __classPrivateFieldGet(this, _ModdableSerial_instances, "m", _ModdableSerial_opened).call(this);
        const count = io.read(into) ?? 0; // undefined: nothing buffered (serial.c returns early)
        __classPrivateFieldSet(this, _ModdableSerial_readable, count < into.length ? 0 : Math.max(0, __classPrivateFieldGet(this, _ModdableSerial_readable, "f") - count), "f");
        return count;
    }
    write(bytes) {
        const io = __classPrivateFieldGet(this, _ModdableSerial_instances, "m", _ModdableSerial_opened).call(this);
        const count = Math.min(bytes.length, __classPrivateFieldGet(this, _ModdableSerial_writable, "f"));
        if (count === 0)
            return 0;
        io.write(count === bytes.length ? bytes : bytes.subarray(0, count));
        __classPrivateFieldSet(this, _ModdableSerial_writable, __classPrivateFieldGet(this, _ModdableSerial_writable, "f") - count, "f");
        return count;
    }
    get readable() {
        return __classPrivateFieldGet(this, _ModdableSerial_readable, "f");
    }
    get baud() {
        return __classPrivateFieldGet(this, _ModdableSerial_baud, "f");
    }
    /**
     * ECMA-419 locks an instance's configuration at construction (documentation/io/io.md, "Create
     * Operation"), so a new rate means close and re-open. Bytes still in the RX ring are dropped:
     * call it right after the modem acknowledged `AT+IPR`.
     */
    setBaud(baud) {
        __classPrivateFieldGet(this, _ModdableSerial_instances, "m", _ModdableSerial_opened).call(this);
        __classPrivateFieldGet(this, _ModdableSerial_io, "f")?.close();
        __classPrivateFieldSet(this, _ModdableSerial_io, undefined, "f");
        __classPrivateFieldSet(this, _ModdableSerial_baud, baud, "f");
        __classPrivateFieldSet(this, _ModdableSerial_writable, 0, "f");
        __classPrivateFieldSet(this, _ModdableSerial_readable, 0, "f");
        __classPrivateFieldSet(this, _ModdableSerial_io, __classPrivateFieldGet(this, _ModdableSerial_instances, "m", _ModdableSerial_open).call(this), "f");
    }
    close() {
        const io = __classPrivateFieldGet(this, _ModdableSerial_io, "f");
        __classPrivateFieldSet(this, _ModdableSerial_io, undefined, "f");
        __classPrivateFieldSet(this, _ModdableSerial_events, {}, "f");
        io?.close();
    }
}
_ModdableSerial_Serial = new WeakMap(), _ModdableSerial_port = new WeakMap(), _ModdableSerial_io = new WeakMap(), _ModdableSerial_events = new WeakMap(), _ModdableSerial_baud = new WeakMap(), _ModdableSerial_writable = new WeakMap(), _ModdableSerial_readable = new WeakMap(), _ModdableSerial_instances = new WeakSet(), _ModdableSerial_open = function _ModdableSerial_open() {
    return new (__classPrivateFieldGet(this, _ModdableSerial_Serial, "f"))({
        port: __classPrivateFieldGet(this, _ModdableSerial_port, "f"),
        baud: __classPrivateFieldGet(this, _ModdableSerial_baud, "f"),
        format: 'buffer',
        onReadable: (count) => {
            __classPrivateFieldSet(this, _ModdableSerial_readable, count, "f");
            __classPrivateFieldGet(this, _ModdableSerial_events, "f").onReadable?.(count);
        },
        onWritable: (count) => {
            __classPrivateFieldSet(this, _ModdableSerial_writable, count, "f");
            __classPrivateFieldGet(this, _ModdableSerial_events, "f").onWritable?.(count);
        },
        onError: (errno) => {
            // serial.c passes the negative errno: -ENOMEM (-12) when the RX ring overflowed.
            __classPrivateFieldGet(this, _ModdableSerial_events, "f").onError?.(new Error(`uart ${__classPrivateFieldGet(this, _ModdableSerial_port, "f")} error ${errno}`));
        },
    });
}, _ModdableSerial_opened = function _ModdableSerial_opened() {
    if (__classPrivateFieldGet(this, _ModdableSerial_io, "f") === undefined)
        throw new Error(`uart ${__classPrivateFieldGet(this, _ModdableSerial_port, "f")} closed`);
    return __classPrivateFieldGet(this, _ModdableSerial_io, "f");
};
//# sourceMappingURL=ota-serial.js.map
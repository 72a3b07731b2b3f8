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
var _ModdableFlash_instances, _ModdableFlash_label, _ModdableFlash_io, _ModdableFlash_status, _ModdableFlash_checkRange;
/**
 * FlashPort on `embedded:storage/flash`, Moddable's Zephyr binding
 * (modules/io/flash/zephyr/flash-zephyr.js + flash-zephyr.c; typings/embedded/storage/flash.d.ts).
 *
 * `open({path})` looks the partition up by its devicetree `label` *property* (DT_PROP(node, label)
 * in flash-zephyr.c), e.g. "image-1" for the node `slot1_partition: partition@... {label =
 * "image-1"; ...}`; it is not the node label. The binding wraps Zephyr's flash_area_* calls and
 * reports `status()` = {size, blockLength (the page size at the partition start), blocks,
 * writeAlign (flash_area_align), eraseValue (flash_area_erased_val)}. Both slots are opened
 * "r+": confirming the running image writes image_ok into the primary slot's trailer.
 * Arguments are checked here, before the native call, so a bad offset is a typed error naming
 * the value instead of the binding's bare "write failed".
 */
import { OtaError } from 'xs-ota';
export class ModdableFlash {
    constructor(storage, label) {
        _ModdableFlash_instances.add(this);
        _ModdableFlash_label.set(this, void 0);
        _ModdableFlash_io.set(this, void 0);
        _ModdableFlash_status.set(this, void 0);
        __classPrivateFieldSet(this, _ModdableFlash_label, label, "f");
        try {
            __classPrivateFieldSet(this, _ModdableFlash_io, storage.open({ path: label, mode: 'r+' }), "f");
        }
        catch (error) {
            // flash-zephyr.c: "can't find partition" when no fixed-partition has this label property.
            throw new OtaError('config-invalid', `flash partition "${label}": ${String(error)}`, error);
        }
        const s = __classPrivateFieldGet(this, _ModdableFlash_io, "f").status();
        if (!(s.blockLength > 0 && s.writeAlign > 0 && s.size > 0 && s.size % s.blockLength === 0)) {
            throw new OtaError('platform-error', `flash partition "${label}": unusable geometry size=${s.size} block=${s.blockLength} align=${s.writeAlign}`);
        }
        __classPrivateFieldSet(this, _ModdableFlash_status, { size: s.size, blockLength: s.blockLength, writeAlign: s.writeAlign, eraseValue: s.eraseValue }, "f");
    }
    status() {
        return __classPrivateFieldGet(this, _ModdableFlash_status, "f");
    }
    read(offset, into) {
        __classPrivateFieldGet(this, _ModdableFlash_instances, "m", _ModdableFlash_checkRange).call(this, offset, into.length);
        __classPrivateFieldGet(this, _ModdableFlash_io, "f").read(into, offset);
    }
    write(offset, bytes) {
        __classPrivateFieldGet(this, _ModdableFlash_instances, "m", _ModdableFlash_checkRange).call(this, offset, bytes.length);
        const align = __classPrivateFieldGet(this, _ModdableFlash_status, "f").writeAlign;
        if (offset % align !== 0 || bytes.length % align !== 0) {
            throw new OtaError('invalid-argument', `flash "${__classPrivateFieldGet(this, _ModdableFlash_label, "f")}": write ${offset}+${bytes.length} not aligned to ${align}`);
        }
        __classPrivateFieldGet(this, _ModdableFlash_io, "f").write(bytes, offset);
    }
    eraseBlock(block) {
        const blocks = __classPrivateFieldGet(this, _ModdableFlash_status, "f").size / __classPrivateFieldGet(this, _ModdableFlash_status, "f").blockLength;
        if (!Number.isInteger(block) || block < 0 || block >= blocks) {
            throw new OtaError('invalid-argument', `flash "${__classPrivateFieldGet(this, _ModdableFlash_label, "f")}": block ${block} outside 0..${blocks - 1}`);
        }
        __classPrivateFieldGet(this, _ModdableFlash_io, "f").eraseBlock(block, block + 1); // flash-zephyr.c: erases [start, end) blocks
    }
    close() {
        __classPrivateFieldGet(this, _ModdableFlash_io, "f").close();
    }
}
_ModdableFlash_label = new WeakMap(), _ModdableFlash_io = new WeakMap(), _ModdableFlash_status = new WeakMap(), _ModdableFlash_instances = new WeakSet(), _ModdableFlash_checkRange = function _ModdableFlash_checkRange(offset, length) {
    if (!Number.isInteger(offset) || offset < 0 || offset + length > __classPrivateFieldGet(this, _ModdableFlash_status, "f").size) {
        throw new OtaError('invalid-argument', `flash "${__classPrivateFieldGet(this, _ModdableFlash_label, "f")}": ${offset}+${length} outside ${__classPrivateFieldGet(this, _ModdableFlash_status, "f").size} bytes`);
    }
};
//# sourceMappingURL=ota-flash.js.map
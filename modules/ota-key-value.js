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
var _ModdableKeyValue_instances, _ModdableKeyValue_domain, _ModdableKeyValue_store, _ModdableKeyValue_checkKey;
/**
 * KeyValuePort on `embedded:storage/key-value`, Moddable's Zephyr binding
 * (modules/io/storage/zephyr/storage-zephyr.{js,c}; typings/embedded/storage/key-value.d.ts):
 * Zephyr settings (NVS backend) under `<domain>/<key>`.
 *
 * Facts from storage-zephyr.c that set the limits below: the settings name is "<domain>/<key>";
 * each value is stored with one format byte in front (settings_save_one) and committed; a missing
 * key reads as undefined (settings_get_val_len returns 0); a value stored in another format throws
 * TypeError "mismatch"; every settings error throws "setting error". Zephyr's settings.h caps a
 * name at SETTINGS_MAX_NAME_LEN (64) and a value at SETTINGS_MAX_VAL_LEN (256), so a string value
 * gets 255 bytes. The value is stored as the string's UTF-8 bytes; the journal writes ASCII, so
 * bytes = length. Provisioning tools must write through this binding too (docs/device-build.md):
 * a raw `settings write` lacks the format byte and reads back as "mismatch".
 */
import { OtaError } from 'xs-ota';
/** Zephyr SETTINGS_MAX_VAL_LEN (256) less the binding's format byte. Longer: limit-exceeded. */
export const MAX_VALUE_LENGTH = 255;
/** Zephyr SETTINGS_MAX_NAME_LEN: "<domain>/<key>" plus its NUL. Longer keys: invalid-argument. */
export const SETTINGS_MAX_NAME_LEN = 64;
export class ModdableKeyValue {
    constructor(storage, domain, mode = 'r+') {
        _ModdableKeyValue_instances.add(this);
        this.maxValueLength = MAX_VALUE_LENGTH;
        _ModdableKeyValue_domain.set(this, void 0);
        _ModdableKeyValue_store.set(this, void 0);
        __classPrivateFieldSet(this, _ModdableKeyValue_domain, domain, "f");
        this.maxKeyLength = SETTINGS_MAX_NAME_LEN - 1 - domain.length - 1;
        if (this.maxKeyLength < 1)
            throw new OtaError('invalid-argument', `key-value domain too long: ${domain}`);
        __classPrivateFieldSet(this, _ModdableKeyValue_store, storage.open({ path: domain, mode, format: 'string' }), "f");
    }
    read(key) {
        __classPrivateFieldGet(this, _ModdableKeyValue_instances, "m", _ModdableKeyValue_checkKey).call(this, key);
        const value = __classPrivateFieldGet(this, _ModdableKeyValue_store, "f").read(key);
        if (value === undefined || typeof value === 'string')
            return value;
        // The binding throws "mismatch" for another stored format; anything else is not ours either.
        throw new OtaError('platform-error', `key-value ${__classPrivateFieldGet(this, _ModdableKeyValue_domain, "f")}/${key}: not a string (${typeof value})`);
    }
    write(key, value) {
        __classPrivateFieldGet(this, _ModdableKeyValue_instances, "m", _ModdableKeyValue_checkKey).call(this, key);
        if (value.length > MAX_VALUE_LENGTH) {
            throw new OtaError('limit-exceeded', `key-value ${__classPrivateFieldGet(this, _ModdableKeyValue_domain, "f")}/${key}: ${value.length} > ${MAX_VALUE_LENGTH} bytes`);
        }
        // Throws "setting error" when settings_save_one or the commit fails: the journal must know.
        __classPrivateFieldGet(this, _ModdableKeyValue_store, "f").write(key, value);
    }
    delete(key) {
        __classPrivateFieldGet(this, _ModdableKeyValue_instances, "m", _ModdableKeyValue_checkKey).call(this, key);
        __classPrivateFieldGet(this, _ModdableKeyValue_store, "f").delete(key);
    }
    close() {
        __classPrivateFieldGet(this, _ModdableKeyValue_store, "f").close();
    }
}
_ModdableKeyValue_domain = new WeakMap(), _ModdableKeyValue_store = new WeakMap(), _ModdableKeyValue_instances = new WeakSet(), _ModdableKeyValue_checkKey = function _ModdableKeyValue_checkKey(key) {
    if (key.length === 0 || key.length > this.maxKeyLength) {
        throw new OtaError('invalid-argument', `key-value ${__classPrivateFieldGet(this, _ModdableKeyValue_domain, "f")}: key length ${key.length} outside 1..${this.maxKeyLength}`);
    }
};
//# sourceMappingURL=ota-key-value.js.map
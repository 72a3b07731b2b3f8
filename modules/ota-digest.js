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
var _ModdableDigest_Digest;
export class ModdableDigest {
    constructor(Digest) {
        _ModdableDigest_Digest.set(this, void 0);
        __classPrivateFieldSet(this, _ModdableDigest_Digest, Digest, "f");
    }
    sha256() {
        const digest = new (__classPrivateFieldGet(this, _ModdableDigest_Digest, "f"))('SHA256');
        let closed = false;
        return {
            update(bytes) {
                if (closed)
                    throw new Error('sha256: update after digest');
                digest.write(bytes);
            },
            digest() {
                if (closed)
                    throw new Error('sha256: digest twice');
                closed = true;
                return new Uint8Array(digest.close());
            },
        };
    }
}
_ModdableDigest_Digest = new WeakMap();
//# sourceMappingURL=ota-digest.js.map
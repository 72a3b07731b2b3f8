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
var _TraceLog_trace, _TraceLog_minimum;
export class TraceLog {
    constructor(trace, minimum = 'info') {
        _TraceLog_trace.set(this, void 0);
        _TraceLog_minimum.set(this, void 0);
        __classPrivateFieldSet(this, _TraceLog_trace, trace, "f");
        __classPrivateFieldSet(this, _TraceLog_minimum, rank(minimum), "f");
    }
    log(level, event, fields) {
        if (rank(level) < __classPrivateFieldGet(this, _TraceLog_minimum, "f"))
            return;
        let line = `ota ${level} ${event}`;
        if (fields !== undefined) {
            for (const key of Object.keys(fields)) {
                const value = fields[key];
                if (value === undefined)
                    continue;
                const text = String(value);
                line += ` ${key}=${/[\s"]/.test(text) ? JSON.stringify(text) : text}`;
            }
        }
        __classPrivateFieldGet(this, _TraceLog_trace, "f").call(this, `${line}\n`);
    }
}
_TraceLog_trace = new WeakMap(), _TraceLog_minimum = new WeakMap();
function rank(level) {
    switch (level) {
        case 'debug':
            return 0;
        case 'info':
            return 1;
        case 'warn':
            return 2;
        case 'error':
            return 3;
    }
}
//# sourceMappingURL=ota-log.js.map
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
var _ModdableClock_time, _ModdableClock_timer, _ModdableClock_dateNow, _ModdableClock_timers, _ModdableClock_nextId, _ModdableClock_lastTicks, _ModdableClock_elapsed;
const TICKS_MODULUS = 2 ** 32;
/** Before 2024-01-01 the RTC has not been set (Zephyr boots at 1970): no wall clock. */
const EARLIEST_PLAUSIBLE_MS = Date.UTC(2024, 0, 1);
export class ModdableClock {
    constructor(time, timer, dateNow = Date.now) {
        _ModdableClock_time.set(this, void 0);
        _ModdableClock_timer.set(this, void 0);
        _ModdableClock_dateNow.set(this, void 0);
        _ModdableClock_timers.set(this, new Map());
        _ModdableClock_nextId.set(this, 1);
        _ModdableClock_lastTicks.set(this, void 0);
        _ModdableClock_elapsed.set(this, 0);
        __classPrivateFieldSet(this, _ModdableClock_time, time, "f");
        __classPrivateFieldSet(this, _ModdableClock_timer, timer, "f");
        __classPrivateFieldSet(this, _ModdableClock_dateNow, dateNow, "f");
        __classPrivateFieldSet(this, _ModdableClock_lastTicks, time.ticks, "f");
    }
    now() {
        const ticks = __classPrivateFieldGet(this, _ModdableClock_time, "f").ticks;
        let delta = (ticks - __classPrivateFieldGet(this, _ModdableClock_lastTicks, "f")) % TICKS_MODULUS;
        if (delta < 0)
            delta += TICKS_MODULUS;
        __classPrivateFieldSet(this, _ModdableClock_lastTicks, ticks, "f");
        __classPrivateFieldSet(this, _ModdableClock_elapsed, __classPrivateFieldGet(this, _ModdableClock_elapsed, "f") + delta, "f");
        return __classPrivateFieldGet(this, _ModdableClock_elapsed, "f");
    }
    wallClock() {
        const ms = __classPrivateFieldGet(this, _ModdableClock_dateNow, "f").call(this);
        return ms >= EARLIEST_PLAUSIBLE_MS ? Math.floor(ms / 1000) : undefined;
    }
    setTimeout(callback, ms) {
        var _a, _b;
        const id = (__classPrivateFieldSet(this, _ModdableClock_nextId, (_b = __classPrivateFieldGet(this, _ModdableClock_nextId, "f"), _a = _b++, _b), "f"), _a);
        const timer = __classPrivateFieldGet(this, _ModdableClock_timer, "f").set(() => {
            __classPrivateFieldGet(this, _ModdableClock_timers, "f").delete(id);
            callback();
        }, Math.max(0, ms));
        __classPrivateFieldGet(this, _ModdableClock_timers, "f").set(id, timer);
        return id;
    }
    clearTimeout(id) {
        const timer = __classPrivateFieldGet(this, _ModdableClock_timers, "f").get(id);
        if (timer === undefined)
            return;
        __classPrivateFieldGet(this, _ModdableClock_timers, "f").delete(id);
        __classPrivateFieldGet(this, _ModdableClock_timer, "f").clear(timer);
    }
}
_ModdableClock_time = new WeakMap(), _ModdableClock_timer = new WeakMap(), _ModdableClock_dateNow = new WeakMap(), _ModdableClock_timers = new WeakMap(), _ModdableClock_nextId = new WeakMap(), _ModdableClock_lastTicks = new WeakMap(), _ModdableClock_elapsed = new WeakMap();
//# sourceMappingURL=ota-clock.js.map
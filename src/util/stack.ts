/**
 * Bounding the JS stack across async layers. XS runs an async function synchronously up to its
 * first `await`, so a chain of async calls (agent -> installer -> image -> SE driver -> T=1 link ->
 * I2C) is one deep synchronous stack until the leaf waits: about 25-30 slots per async layer on
 * the 32-bit engine, and the device has creation.stack slots in all (about 190 of them XS's own).
 * A job queued on a settled promise starts from the job queue instead, with none of its callers'
 * frames below it: each layer that starts its work this way bounds the depth of the chain above
 * it, at the cost of one microtask turn (no clock time).
 */
const SETTLED: Promise<void> = Promise.resolve();

/** Run `work` as a new job: its depth no longer adds to the caller's (a throw becomes the rejection). */
export function startAsJob<T>(work: () => T | PromiseLike<T>): Promise<T> {
  return SETTLED.then(work);
}

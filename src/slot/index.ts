/** Flash slots and MCUboot's trailer protocol: the public surface other parts of the agent use. */
export { SlotWriter, type SlotWriterOptions } from './slot-writer.js';
export { readSlotImage, readSlotSummary, feedFromFlash, type ReadSlotOptions, type SlotSummary } from './slot-reader.js';
export { ErasedAheadSlot, ERASED_MARK_KEY } from './erased-ahead.js';
export { markPending, confirmPrimary, readSwapState, readBootState, bootOutcome, type BootState, type BootOutcome } from './boot-state.js';

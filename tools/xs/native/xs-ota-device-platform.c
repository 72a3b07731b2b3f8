/*
 * xs-ota device profile, engine side: appended to a copy of xsnapPlatform.c (which sees the
 * machine's internals) by tools/xs/build-xsnap32.sh. Its API side is xs-ota-device-worker.c.
 *
 * Why: a device's heap is a fixed size, and the bench needs what it must hold: live slots and
 * chunk bytes after a full collection, sampled inside engine calls (from the metering callback),
 * and the deepest JS stack. xsnap's heap grows to 2 GiB and its reservation says little.
 */
static txInteger gxOtaPeakStack = 0;
static txSize gxOtaPeakLiveSlots = 0;
static txSize gxOtaPeakLiveChunks = 0;
static txSize gxOtaPeakLiveBytes = 0;
static txU4 gxOtaCollections = 0;
static txBoolean gxOtaCollecting = 0;
/* Diagnosis: the first time the stack is deeper than this, print the JS frames (0: never). */
static txInteger gxOtaTraceDepth = 0;
/* Live bytes (slots + chunks) the engine may hold: live when the guest was loaded + the budget. */
static size_t gxOtaBoundBytes = 0;

static size_t xsOtaUsedBytes(txMachine* the)
{
	/* Slots and chunk bytes in use: live after a collection, live + garbage since then. */
	return (size_t)the->currentHeapCount * sizeof(txSlot) + (size_t)the->currentChunksSize;
}

static void xsOtaCollect(txMachine* the)
{
	gxOtaCollecting = 1;
	fxCollectGarbage(the);
	gxOtaCollecting = 0;
	gxOtaCollections++;
	size_t bytes = xsOtaUsedBytes(the);
	if ((size_t)gxOtaPeakLiveBytes < bytes) {
		gxOtaPeakLiveBytes = (txSize)bytes;
		gxOtaPeakLiveSlots = the->currentHeapCount;
		gxOtaPeakLiveChunks = the->currentChunksSize;
	}
}

/* Called where the interpreter checks its meter (function entries, backward branches; it saves
   its state first, so a collection is as safe there as at any allocation). Records the stack
   depth; collects when `collect` (the bench's live samples) or when what is in use passes the
   bound, and then stops the engine ("memory full", as a device heap that cannot fit the live
   objects) if the live bytes still pass it. */
void xsOtaSample(void* machine, int collect)
{
	txMachine* the = (txMachine*)machine;
	txInteger depth = (txInteger)(the->stackTop - the->stack);
	if (gxOtaPeakStack < depth)
		gxOtaPeakStack = depth;
	if (gxOtaTraceDepth && depth > gxOtaTraceDepth) {
		char name[128];
		txSlot* frame = the->frame;
		fprintf(stderr, "xs-ota device profile: JS stack %d slots deep:\n", (int)depth);
		while (frame) {
			name[0] = 0;
			fxBufferFrameName(the, name, sizeof(name), frame, "");
			fprintf(stderr, "  %5d %s\n", (int)(the->stackTop - frame), name);
			frame = frame->next;
		}
		gxOtaTraceDepth = 0;
	}
	if (gxOtaCollecting)
		return;
	if (collect || (gxOtaBoundBytes && xsOtaUsedBytes(the) > gxOtaBoundBytes))
		xsOtaCollect(the);
	if (gxOtaBoundBytes && xsOtaUsedBytes(the) > gxOtaBoundBytes) {
		fprintf(stderr, "xs-ota device profile: memory full: %ld live bytes, bound %ld\n",
			(long)xsOtaUsedBytes(the), (long)gxOtaBoundBytes);
		fxAbort(the, XS_NOT_ENOUGH_MEMORY_EXIT);
	}
}

void xsOtaTraceDepth(long depth)
{
	gxOtaTraceDepth = (txInteger)depth;
}

/* At the start of a crank (which resets the meter index to 0): the next check comes one
   interval later. */
void xsOtaBeginCrank(void* machine)
{
	txMachine* the = (txMachine*)machine;
	if (the->meterInterval)
		the->meterCount = the->meterIndex + the->meterInterval;
}

/* From now on the live heap may grow by at most `budget` bytes. Returns the live bytes now. */
long xsOtaBoundHeap(void* machine, long budget)
{
	txMachine* the = (txMachine*)machine;
	xsOtaCollect(the);
	size_t live = xsOtaUsedBytes(the);
	gxOtaBoundBytes = live + (size_t)budget;
	return (long)live;
}

enum {
	mxOtaSlotSize, mxOtaPointerSize, mxOtaStackSlots, mxOtaReservedBytes, mxOtaLiveSlots,
	mxOtaLiveChunkBytes, mxOtaPeakLiveBytes, mxOtaPeakLiveSlots, mxOtaPeakLiveChunkBytes,
	mxOtaPeakStackSlots, mxOtaCollections, mxOtaAllocatedBytes, mxOtaBoundBytes, mxOtaFigureCount
};

void xsOtaFigures(void* machine, long* figures, int reset)
{
	txMachine* the = (txMachine*)machine;
	figures[mxOtaSlotSize] = (long)sizeof(txSlot);
	figures[mxOtaPointerSize] = (long)sizeof(void*);
	figures[mxOtaStackSlots] = (long)(the->stackTop - the->stackBottom);
	figures[mxOtaReservedBytes] = (long)(the->maximumHeapCount * sizeof(txSlot) + the->maximumChunksSize);
	figures[mxOtaLiveSlots] = (long)the->currentHeapCount;
	figures[mxOtaLiveChunkBytes] = (long)the->currentChunksSize;
	figures[mxOtaPeakLiveBytes] = (long)gxOtaPeakLiveBytes;
	figures[mxOtaPeakLiveSlots] = (long)gxOtaPeakLiveSlots;
	figures[mxOtaPeakLiveChunkBytes] = (long)gxOtaPeakLiveChunks;
	figures[mxOtaPeakStackSlots] = (long)gxOtaPeakStack;
	figures[mxOtaCollections] = (long)gxOtaCollections;
	figures[mxOtaAllocatedBytes] = (long)the->allocatedSpace;
	figures[mxOtaBoundBytes] = (long)gxOtaBoundBytes;
	if (reset) {
		gxOtaPeakStack = 0;
		gxOtaPeakLiveBytes = gxOtaPeakLiveSlots = gxOtaPeakLiveChunks = 0;
		gxOtaCollections = 0;
	}
}

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
/* Where to write the peaks whenever one grows (the bench: the engine may be killed, as a reset
   stops the device, and then cannot be asked). */
static const char* gxOtaProfileFile = NULL;
/* Diagnosis: the first time the stack is deeper than this, print the JS frames (0: never). */
static txInteger gxOtaTraceDepth = 0;
/* Live bytes (slots + chunks) the engine may hold: live when the guest was loaded + the budget. */
static size_t gxOtaBoundBytes = 0;

static size_t xsOtaUsedBytes(txMachine* the)
{
	/* Slots and chunk bytes in use: live after a collection, live + garbage since then. */
	return (size_t)the->currentHeapCount * sizeof(txSlot) + (size_t)the->currentChunksSize;
}

static void xsOtaWriteProfile(void)
{
	FILE* file;
	if (!gxOtaProfileFile)
		return;
	file = fopen(gxOtaProfileFile, "w");
	if (!file)
		return;
	fprintf(file, "{\"peakLiveBytes\":%ld,\"peakLiveSlots\":%ld,\"peakLiveChunkBytes\":%ld,\"peakStackSlots\":%ld,\"collections\":%ld}\n",
		(long)gxOtaPeakLiveBytes, (long)gxOtaPeakLiveSlots, (long)gxOtaPeakLiveChunks, (long)gxOtaPeakStack, (long)gxOtaCollections);
	fclose(file);
}

void xsOtaProfileFile(const char* path)
{
	gxOtaProfileFile = path;
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
		xsOtaWriteProfile();
	}
}

static txBoolean gxOtaOverBound = 0;

/* Records the stack depth. Called where the interpreter checks its meter (function entries,
   backward branches: `safe` 0) and where the guest calls the host (issueCommand, a host
   function: `safe` 1). A full collection (which moves chunks) is only done at a safe point: a
   host function may collect like any allocation, while a meter check can come inside a native
   built-in that holds chunk pointers (JSON.parse calling a reviver). So a meter check only notes
   that what is in use passed the bound; the next safe point collects, and stops the engine
   ("memory full", as a device heap that cannot fit the live objects) if the live bytes still
   pass it. `collect` asks for a live sample (the bench). */
void xsOtaSample(void* machine, int safe, int collect)
{
	txMachine* the = (txMachine*)machine;
	txInteger depth = (txInteger)(the->stackTop - the->stack);
	if (gxOtaPeakStack < depth) {
		gxOtaPeakStack = depth;
		xsOtaWriteProfile();
	}
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
	txBoolean over = gxOtaBoundBytes && xsOtaUsedBytes(the) > gxOtaBoundBytes;
	if (!safe) {
		if (over)
			gxOtaOverBound = 1;
		return;
	}
	if (collect || over || gxOtaOverBound)
		xsOtaCollect(the);
	gxOtaOverBound = 0;
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

/* At the end of a crank (the host's turn, a safe point): what passed the bound since the last
   safe point is collected and checked here, so a call that allocates without calling the host
   fails itself. Outside the engine's run, so it exits as xsnap does for memory full (11). */
void xsOtaEndCrank(void* machine)
{
	txMachine* the = (txMachine*)machine;
	txBoolean over = gxOtaBoundBytes && xsOtaUsedBytes(the) > gxOtaBoundBytes;
	if (!over && !gxOtaOverBound)
		return;
	xsOtaCollect(the);
	gxOtaOverBound = 0;
	if (gxOtaBoundBytes && xsOtaUsedBytes(the) > gxOtaBoundBytes) {
		fprintf(stderr, "xs-ota device profile: memory full: %ld live bytes, bound %ld\n",
			(long)xsOtaUsedBytes(the), (long)gxOtaBoundBytes);
		exit(11);
	}
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

/*
 * xs-ota device profile, engine side: appended to a copy of xsnapPlatform.c (which sees the
 * machine's internals) by tools/xs/build-xsnap32.sh. Its API side is xs-ota-device-worker.c.
 *
 * Why: a device's heap is a fixed size, and the bench needs what it must hold: live slots and
 * chunk bytes after a full collection, sampled inside engine calls (from the metering callback),
 * and the deepest JS stack. xsnap's heap grows to 2 GiB and its reservation says little.
 */
static txInteger gxOtaPeakStack = 0;
/* The deepest stack as the engine saw it, the test bridge's frames included. */
static txInteger gxOtaPeakRawStack = 0;
static txSize gxOtaPeakLiveSlots = 0;
static txSize gxOtaPeakLiveChunks = 0;
static txSize gxOtaPeakLiveBytes = 0;
static txU4 gxOtaCollections = 0;
static txBoolean gxOtaCollecting = 0;
/* Where to write the peaks whenever one grows (the bench: the engine may be killed, as a reset
   stops the device, and then cannot be asked). */
static const char* gxOtaProfileFile = NULL;
/* Diagnosis: each time the stack (without the bridge) is deeper than this, print the JS frames and
   raise it to that depth, so every new peak above it is printed once (0: never). */
static txInteger gxOtaTraceDepth = 0;
/* Diagnosis: with XSOTA_TRACE_DEPTH, only stacks with a frame whose name contains this (NULL: any),
   to see how deep one path goes when another is the overall peak. */
static const char* gxOtaTraceFrame = NULL;
/* Live bytes (slots + chunks) the engine may hold: live when the guest was loaded + the budget. */
static size_t gxOtaBoundBytes = 0;

static size_t xsOtaUsedBytes(txMachine* the)
{
	/* Slots and chunk bytes in use: live after a collection, live + garbage since then. */
	return (size_t)the->currentHeapCount * sizeof(txSlot) + (size_t)the->currentChunksSize;
}

/* Byte code copied into chunks, as of the last collection. The guest is evaluated as a script,
   so XS copies a function's byte code into a chunk (XS_CODE_KIND) each time it creates the
   function object: every closure, every object's private method. A device runs the preloaded
   archive, where a new function's code points into flash (XS_CODE_X_KIND) and costs no RAM; the
   device figures therefore leave these chunks out (the heap bound does not: it is what this
   engine must hold). */
static size_t gxOtaCodeBytes = 0;

static size_t xsOtaCodeBytes(txMachine* the)
{
	size_t bytes = 0;
	txSlot* heap = the->firstHeap;
	while (heap) {
		txSlot* slot = heap + 1;
		txSlot* limit = heap->value.reference;
		for (; slot < limit; slot++) {
			if (slot->kind == XS_CODE_KIND && slot->value.code.address)
				bytes += (size_t)(((txChunk*)(slot->value.code.address - sizeof(txChunk)))->size);
		}
		heap = heap->next;
	}
	return bytes;
}

/* What a device's RAM heap would hold of what is live now (after a collection). */
static size_t xsOtaDeviceBytes(txMachine* the)
{
	return xsOtaUsedBytes(the) - gxOtaCodeBytes;
}

static void xsOtaWriteProfile(void)
{
	FILE* file;
	if (!gxOtaProfileFile)
		return;
	file = fopen(gxOtaProfileFile, "w");
	if (!file)
		return;
	fprintf(file, "{\"peakLiveBytes\":%ld,\"peakLiveSlots\":%ld,\"peakLiveChunkBytes\":%ld,\"peakStackSlots\":%ld,\"peakRawStackSlots\":%ld,\"collections\":%ld}\n",
		(long)gxOtaPeakLiveBytes, (long)gxOtaPeakLiveSlots, (long)gxOtaPeakLiveChunks, (long)gxOtaPeakStack, (long)gxOtaPeakRawStack, (long)gxOtaCollections);
	fclose(file);
}

void xsOtaProfileFile(const char* path)
{
	gxOtaProfileFile = path;
}


/* Diagnosis (XSOTA_CENSUS_FILE): what the live heap is made of, written at the heap bound (the
   loaded guest: `<file>.base`) and at every new live peak (`<file>`, with the JS frames then).
   Each object is counted with its own property slots and the chunks they hold (strings, array
   items, buffers), grouped by constructor (or, for functions, by function name), so that two
   censuses say which kinds of objects the agent adds. */
static const char* gxOtaCensusFile = NULL;

void xsOtaCensusFile(const char* path)
{
	gxOtaCensusFile = path;
}

#define mxOtaCensusGroups 8192
typedef struct {
	void* key;
	txSlot* sample;
	txBoolean function;
	long count;
	long slots;
	long chunkBytes;
} txOtaCensusGroup;

static long xsOtaChunkSize(void* address)
{
	if (!address)
		return 0;
	return (long)(((txChunk*)(((txByte*)address) - sizeof(txChunk)))->size);
}

static long xsOtaSlotChunk(txSlot* slot)
{
	switch (slot->kind) {
	case XS_STRING_KIND: return xsOtaChunkSize(slot->value.string);
	case XS_BIGINT_KIND: return xsOtaChunkSize(slot->value.bigint.data);
	case XS_ARGUMENTS_SLOPPY_KIND:
	case XS_ARGUMENTS_STRICT_KIND:
	case XS_ARRAY_KIND:
	case XS_STACK_KIND: return xsOtaChunkSize(slot->value.array.address);
	case XS_ARRAY_BUFFER_KIND: return xsOtaChunkSize(slot->value.arrayBuffer.address);
	case XS_CODE_KIND: return xsOtaChunkSize(slot->value.code.address);
	case XS_GLOBAL_KIND:
	case XS_MAP_KIND:
	case XS_SET_KIND:
	case XS_WEAK_MAP_KIND:
	case XS_WEAK_SET_KIND: return xsOtaChunkSize(slot->value.table.address);
	case XS_HOST_KIND: return (slot->flag & XS_HOST_CHUNK_FLAG) ? xsOtaChunkSize(slot->value.host.data) : 0;
	case XS_IDS_KIND: return xsOtaChunkSize(slot->value.IDs);
	case XS_REGEXP_KIND: return xsOtaChunkSize(slot->value.regexp.code) + xsOtaChunkSize(slot->value.regexp.data);
	case XS_KEY_KIND: return xsOtaChunkSize(slot->value.key.string);
	default: return 0;
	}
}

static void xsOtaCensusName(txMachine* the, txOtaCensusGroup* group, char* name, int size)
{
	name[0] = 0;
	if (group->function) {
		/* A private method's function object has no name until the first instance gets the
		   method: XS names it then, in place (fxRenameFunction; on a device the preloaded
		   function is read-only and keeps no name). Census groups are keyed by that name, so such
		   a function moves from this group to its `#name` group without any allocation. */
		if (group->key == (void*)(txUnsigned)(XS_NO_ID + 1)) {
			c_strncat(name, "(unnamed function)", size - 1);
			return;
		}
		fxBufferFunctionName(the, name, size, group->sample, "");
		return;
	}
	if (((txUnsigned)group->key) & 1) {
		snprintf(name, size, "ArrayBuffer chunk %lu", (unsigned long)(((txUnsigned)group->key) >> 1));
		return;
	}
	txSlot* prototype = (txSlot*)group->key;
	if (!prototype) {
		c_strncat(name, "(no prototype)", size - 1);
		return;
	}
	txSlot* property = prototype->next;
	while (property) {
		if (property->ID == mxID(_constructor) && property->kind == XS_REFERENCE_KIND && mxIsFunction(property->value.reference)) {
			fxBufferFunctionName(the, name, size, property->value.reference, "");
			return;
		}
		property = property->next;
	}
	fxBufferObjectName(the, name, size, prototype, "");
	if (!name[0])
		c_strncat(name, "(prototype without constructor)", size - 1);
}

static void xsOtaWriteCensus(txMachine* the, const char* path, int frames)
{
	static txOtaCensusGroup groups[mxOtaCensusGroups];
	long counted = 0, countedChunks = 0, instances = 0;
	FILE* file = fopen(path, "w");
	if (!file)
		return;
	c_memset(groups, 0, sizeof(groups));
	txSlot* heap = the->firstHeap;
	while (heap) {
		txSlot* slot = heap + 1;
		txSlot* limit = heap->value.reference;
		for (; slot < limit; slot++) {
			if (slot->kind != XS_INSTANCE_KIND)
				continue;
			instances++;
			txBoolean function = slot->next && (slot->next->flag & XS_INTERNAL_FLAG) && (slot->next->kind == XS_CODE_KIND || slot->next->kind == XS_CODE_X_KIND || slot->next->kind == XS_CALLBACK_KIND || slot->next->kind == XS_CALLBACK_X_KIND);
			void* key = function ? (void*)(txUnsigned)(slot->next->ID + 1) : (void*)slot->value.instance.prototype;
			/* Buffers by size: which buffer is which. */
			if (!function && slot->next && slot->next->kind == XS_ARRAY_BUFFER_KIND)
				key = (void*)(((txUnsigned)xsOtaChunkSize(slot->next->value.arrayBuffer.address) << 1) | 1);
			unsigned h = (unsigned)(((uintptr_t)key >> 3) * 2654435761u) % mxOtaCensusGroups;
			unsigned tries = 0;
			while (groups[h].count && (groups[h].key != key || groups[h].function != function) && tries < mxOtaCensusGroups) {
				h = (h + 1) % mxOtaCensusGroups;
				tries++;
			}
			if (tries >= mxOtaCensusGroups)
				continue;
			txOtaCensusGroup* group = &groups[h];
			group->key = key;
			group->function = function;
			group->sample = slot;
			group->count++;
			txSlot* property = slot;
			while (property) {
				group->slots++;
				group->chunkBytes += xsOtaSlotChunk(property);
				property = property->next;
			}
		}
		heap = heap->next;
	}
	fprintf(file, "{\"liveSlots\":%ld,\"liveChunkBytes\":%ld,\"instances\":%ld,\"groups\":[\n", (long)the->currentHeapCount, (long)the->currentChunksSize, instances);
	int first = 1;
	for (unsigned i = 0; i < mxOtaCensusGroups; i++) {
		char name[160];
		if (!groups[i].count)
			continue;
		xsOtaCensusName(the, &groups[i], name, sizeof(name));
		for (char* c = name; *c; c++) if (*c == '"' || *c == '\\' || *c < ' ') *c = '_';
		fprintf(file, "%s{\"name\":\"%s%s\",\"count\":%ld,\"slots\":%ld,\"chunkBytes\":%ld}", first ? "" : ",\n", groups[i].function ? "fn " : "", name, groups[i].count, groups[i].slots, groups[i].chunkBytes);
		counted += groups[i].slots;
		countedChunks += groups[i].chunkBytes;
		first = 0;
	}
	fprintf(file, "],\"countedSlots\":%ld,\"countedChunkBytes\":%ld,\"frames\":[", counted, countedChunks);
	if (frames) {
		txSlot* frame = the->frame;
		first = 1;
		while (frame) {
			char name[160];
			name[0] = 0;
			fxBufferFrameName(the, name, sizeof(name), frame, "");
			for (char* c = name; *c; c++) if (*c == '"' || *c == '\\' || *c < ' ') *c = '_';
			fprintf(file, "%s\"%s\"", first ? "" : ",", name);
			first = 0;
			frame = frame->next;
		}
	}
	fprintf(file, "]}\n");
	fclose(file);
}

static void xsOtaCollect(txMachine* the)
{
	gxOtaCollecting = 1;
	fxCollectGarbage(the);
	gxOtaCollecting = 0;
	gxOtaCollections++;
	gxOtaCodeBytes = xsOtaCodeBytes(the);
	size_t bytes = xsOtaDeviceBytes(the);
	if ((size_t)gxOtaPeakLiveBytes < bytes) {
		gxOtaPeakLiveBytes = (txSize)bytes;
		gxOtaPeakLiveSlots = the->currentHeapCount;
		gxOtaPeakLiveChunks = the->currentChunksSize - (txSize)gxOtaCodeBytes;
		xsOtaWriteProfile();
		if (gxOtaCensusFile && gxOtaBoundBytes) {
			char peak[1024];
			snprintf(peak, sizeof(peak), "%s.%d", gxOtaCensusFile, (int)getpid());
			xsOtaWriteCensus(the, peak, 1);
		}
	}
}

static txBoolean gxOtaOverBound = 0;

/* The bridge's two functions, found by name once, then by identity (their function objects are
   the bundle's and live as long as it; slots never move). */
static txSlot* gxOtaHostCall = C_NULL;
static txSlot* gxOtaHandleCommand = C_NULL;

static txSlot* xsOtaFrameFunction(txSlot* frame)
{
	txSlot* function = frame + 3;
	return function->kind == XS_REFERENCE_KIND ? function->value.reference : C_NULL;
}

static int xsOtaFrameIs(txMachine* the, txSlot* frame, txSlot** known, const char* name)
{
	txSlot* function = xsOtaFrameFunction(frame);
	if (!function)
		return 0;
	if (*known)
		return function == *known;
	char buffer[64];
	buffer[0] = 0;
	fxBufferFrameName(the, buffer, sizeof(buffer), frame, "");
	if (c_strcmp(buffer, name) != 0)
		return 0;
	*known = function;
	return 1;
}

/* The lowest slot of a frame's arguments (XS: argc at frame - 1, argument i at frame - 2 - i). */
static txSlot* xsOtaFrameArguments(txSlot* frame)
{
	return frame - 1 - (frame - 1)->value.integer;
}

/* The stack depth a device would have: without the test bridge's own frames (guest/bridge.ts).
   - Below the innermost `hostCall` (its locals, and what it calls: encoding the request, the
     native issueCommand, decoding the reply). A device's port is one native call made where
     `hostCall` is called, with the same `this`, function, result and arguments slots, so
     `hostCall`'s own frame down to its last argument stays counted.
   - Between the outermost `handleCommand` and the guest function it calls (handleCommand's
     locals and operand stack: the decoded message, the handler lookup). A device's native
     callback calls the handler from its host frame: `handleCommand`'s own frame and arguments
     stand for that host frame, and the callee's `this`, function, target and result slots stay.
     (Before it calls the handler, handleCommand decodes the message in frames that stay counted:
     a shallow stack, never the peak.)
   Only a depth that may be a new peak is corrected (a frame walk per new peak). */
static txInteger xsOtaDeviceDepth(txMachine* the, txInteger depth)
{
	txSlot* frame = the->frame;
	txSlot* inner = C_NULL;
	txInteger top = depth;
	txInteger excess = 0;
	txBoolean cut = 0;
	while (frame) {
		if (!cut && xsOtaFrameIs(the, frame, &gxOtaHostCall, "hostCall")) {
			top = (txInteger)(the->stackTop - xsOtaFrameArguments(frame));
			cut = 1;
		}
		else if (inner && xsOtaFrameIs(the, frame, &gxOtaHandleCommand, "handleCommand"))
			excess = (txInteger)(xsOtaFrameArguments(frame) - (inner + 4) - 1);
		inner = frame;
		frame = frame->next;
	}
	return top - excess;
}

/* Whether the stack has a frame named like gxOtaTraceFrame (always, without one). */
static txBoolean xsOtaTraceFrameIn(txMachine* the)
{
	char name[128];
	txSlot* frame = the->frame;
	if (!gxOtaTraceFrame)
		return 1;
	while (frame) {
		name[0] = 0;
		fxBufferFrameName(the, name, sizeof(name), frame, "");
		if (c_strstr(name, gxOtaTraceFrame))
			return 1;
		frame = frame->next;
	}
	return 0;
}

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
		/* The raw depth passes the device peak wherever the bridge's frames are on the stack (a
		   host call, a callback), so only a peak that really grew is written. */
		txInteger device = xsOtaDeviceDepth(the, depth);
		txBoolean grew = 0;
		if (gxOtaPeakRawStack < depth) {
			gxOtaPeakRawStack = depth;
			grew = 1;
		}
		if (gxOtaPeakStack < device) {
			gxOtaPeakStack = device;
			grew = 1;
		}
		if (grew)
			xsOtaWriteProfile();
	}
	/* Only once the guest is loaded, as the recorded peaks (a device never runs the load). */
	if (gxOtaTraceDepth && gxOtaBoundBytes && depth > gxOtaTraceDepth && xsOtaDeviceDepth(the, depth) > gxOtaTraceDepth && xsOtaTraceFrameIn(the)) {
		char name[128];
		txSlot* frame = the->frame;
		txInteger device = xsOtaDeviceDepth(the, depth);
		fprintf(stderr, "xs-ota device profile: JS stack %d slots deep (%d without the bridge):\n", (int)depth, (int)device);
		while (frame) {
			name[0] = 0;
			fxBufferFrameName(the, name, sizeof(name), frame, "");
			fprintf(stderr, "  %5d %s\n", (int)(the->stackTop - frame), name);
			frame = frame->next;
		}
		gxOtaTraceDepth = device;
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

void xsOtaTraceFrame(const char* name)
{
	gxOtaTraceFrame = name;
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

/* From now on the live heap may grow by at most `budget` bytes. Returns the live bytes now, as
   a device would hold them (no byte code: xsOtaDeviceBytes). */
long xsOtaBoundHeap(void* machine, long budget)
{
	txMachine* the = (txMachine*)machine;
	xsOtaCollect(the);
	size_t live = xsOtaDeviceBytes(the);
	gxOtaBoundBytes = xsOtaUsedBytes(the) + (size_t)budget;
	if (gxOtaCensusFile) {
		char base[1024];
		snprintf(base, sizeof(base), "%s.%d.base", gxOtaCensusFile, (int)getpid());
		xsOtaWriteCensus(the, base, 0);
	}
	return (long)live;
}

enum {
	mxOtaSlotSize, mxOtaPointerSize, mxOtaStackSlots, mxOtaReservedBytes, mxOtaLiveSlots,
	mxOtaLiveChunkBytes, mxOtaPeakLiveBytes, mxOtaPeakLiveSlots, mxOtaPeakLiveChunkBytes,
	mxOtaPeakStackSlots, mxOtaCollections, mxOtaAllocatedBytes, mxOtaBoundBytes, mxOtaCodeBytes, mxOtaPeakRawStackSlots, mxOtaFigureCount
};

void xsOtaFigures(void* machine, long* figures, int reset)
{
	txMachine* the = (txMachine*)machine;
	figures[mxOtaSlotSize] = (long)sizeof(txSlot);
	figures[mxOtaPointerSize] = (long)sizeof(void*);
	figures[mxOtaStackSlots] = (long)(the->stackTop - the->stackBottom);
	figures[mxOtaReservedBytes] = (long)(the->maximumHeapCount * sizeof(txSlot) + the->maximumChunksSize);
	figures[mxOtaLiveSlots] = (long)the->currentHeapCount;
	figures[mxOtaLiveChunkBytes] = (long)(the->currentChunksSize - gxOtaCodeBytes);
	figures[mxOtaCodeBytes] = (long)gxOtaCodeBytes;
	figures[mxOtaPeakRawStackSlots] = (long)gxOtaPeakRawStack;
	figures[mxOtaPeakLiveBytes] = (long)gxOtaPeakLiveBytes;
	figures[mxOtaPeakLiveSlots] = (long)gxOtaPeakLiveSlots;
	figures[mxOtaPeakLiveChunkBytes] = (long)gxOtaPeakLiveChunks;
	figures[mxOtaPeakStackSlots] = (long)gxOtaPeakStack;
	figures[mxOtaCollections] = (long)gxOtaCollections;
	figures[mxOtaAllocatedBytes] = (long)the->allocatedSpace;
	figures[mxOtaBoundBytes] = (long)gxOtaBoundBytes;
	if (reset) {
		gxOtaPeakStack = 0;
		gxOtaPeakRawStack = 0;
		gxOtaPeakLiveBytes = gxOtaPeakLiveSlots = gxOtaPeakLiveChunks = 0;
		gxOtaCollections = 0;
	}
}

/*
 * xs-ota device profile, API side: appended to a copy of xsnap-worker.c by
 * tools/xs/build-xsnap32.sh and called from six hooks there. Its engine side is
 * xs-ota-device-platform.c.
 *
 * Why: a device runs XS with the manifest's `creation` (a small JS stack, a bounded heap);
 * xsnap-worker hard-codes a 4096-slot stack and a 32 MiB heap. The limits come from the
 * environment that tools/xs/worker.ts sets:
 *   XSOTA_STACK_SLOTS      creation stackCount
 *   XSOTA_CHUNK_INITIAL / XSOTA_CHUNK_INCREMENTAL      creation chunk sizes, bytes
 *   XSOTA_HEAP_INITIAL  / XSOTA_HEAP_INCREMENTAL       creation heap sizes, slots
 *   XSOTA_SAMPLE_INTERVAL  meter units between stack samples and heap-bound checks (0: none)
 *   XSOTA_GC_EVERY         collect and sample live memory at every Nth host call (0: never)
 *   XSOTA_TRACE_DEPTH      diagnosis: print the JS frames at each new stack peak deeper than this
 *   XSOTA_TRACE_FRAME      with it: only stacks with a frame whose name contains this text
 *   XSOTA_PROFILE_FILE     rewrite the peaks (JSON) there whenever one grows (the bench)
 *   XSOTA_CENSUS_FILE      diagnosis: what the live heap holds, by constructor, at the heap bound
 *                          (`<file>.<pid>.base`) and at every new live peak (`<file>.<pid>`)
 * Absent means xsnap's own value. The heap bound starts once the guest is loaded (on the device
 * the bundle is preloaded in flash): the host calls xsOtaBoundHeap(bytes).
 */
#include <stdlib.h>

extern void xsOtaSample(void* machine, int safe, int collect);
extern long xsOtaBoundHeap(void* machine, long budget);
extern void xsOtaFigures(void* machine, long* figures, int reset);
extern void xsOtaTraceDepth(long depth);
extern void xsOtaTraceFrame(const char* name);
extern void xsOtaProfileFile(const char* path);
extern void xsOtaCensusFile(const char* path);

static xsUnsignedValue gxOtaSampleInterval = 0;
static xsUnsignedValue gxOtaGcEvery = 0;
static xsUnsignedValue gxOtaSamples = 0;
static long gxOtaHeapBytes = 0;

static long xsOtaEnv(const char* name, long fallback)
{
	const char* text = getenv(name);
	if (!text || !*text)
		return fallback;
	return strtol(text, NULL, 10);
}

void xsOtaDeviceCreation(xsCreation* creation)
{
	creation->stackCount = (xsIntegerValue)xsOtaEnv("XSOTA_STACK_SLOTS", creation->stackCount);
	creation->initialChunkSize = (xsIntegerValue)xsOtaEnv("XSOTA_CHUNK_INITIAL", creation->initialChunkSize);
	creation->incrementalChunkSize = (xsIntegerValue)xsOtaEnv("XSOTA_CHUNK_INCREMENTAL", creation->incrementalChunkSize);
	creation->initialHeapCount = (xsIntegerValue)xsOtaEnv("XSOTA_HEAP_INITIAL", creation->initialHeapCount);
	creation->incrementalHeapCount = (xsIntegerValue)xsOtaEnv("XSOTA_HEAP_INCREMENTAL", creation->incrementalHeapCount);
	gxOtaSampleInterval = (xsUnsignedValue)xsOtaEnv("XSOTA_SAMPLE_INTERVAL", 0);
	gxOtaGcEvery = (xsUnsignedValue)xsOtaEnv("XSOTA_GC_EVERY", 0);
	xsOtaTraceDepth(xsOtaEnv("XSOTA_TRACE_DEPTH", 0));
	if (getenv("XSOTA_TRACE_FRAME") && *getenv("XSOTA_TRACE_FRAME"))
		xsOtaTraceFrame(getenv("XSOTA_TRACE_FRAME"));
	if (getenv("XSOTA_PROFILE_FILE") && *getenv("XSOTA_PROFILE_FILE"))
		xsOtaProfileFile(getenv("XSOTA_PROFILE_FILE"));
	if (getenv("XSOTA_CENSUS_FILE") && *getenv("XSOTA_CENSUS_FILE"))
		xsOtaCensusFile(getenv("XSOTA_CENSUS_FILE"));
}

xsBooleanValue xsOtaMeteringCallback(xsMachine* the, xsUnsignedValue index)
{
	gxOtaSamples++;
	xsOtaSample(the, 0, 0);
	return fxMeteringCallback(the, index);
}

xsUnsignedValue xsOtaMeteringInterval(xsUnsignedValue interval)
{
	if (gxOtaSampleInterval && (!interval || gxOtaSampleInterval < interval))
		return gxOtaSampleInterval;
	return interval;
}

static xsUnsignedValue gxOtaHostCalls = 0;

/* issueCommand with a safe point before it: the guest calls the host in the middle of its work
   (a UART read, a flash write, a timer), which is where its buffers are live. */
static void xs_ota_issue_command(xsMachine* the)
{
	gxOtaHostCalls++;
	xsOtaSample(the, 1, gxOtaGcEvery && (gxOtaHostCalls % gxOtaGcEvery) == 0);
	xs_issueCommand(the);
}

static const char* const gxOtaFigureNames[] = {
	"slotSize", "pointerSize", "stackSlots", "reservedBytes", "liveSlots", "liveChunkBytes",
	"peakLiveBytes", "peakLiveSlots", "peakLiveChunkBytes", "peakStackSlots", "collections",
	"allocatedBytes", "boundBytes", "codeBytes", "peakRawStackSlots",
};
#define mxOtaFigureCount (sizeof(gxOtaFigureNames) / sizeof(gxOtaFigureNames[0]))

/* xsOtaDeviceProfile(reset): the figures so far (after a full collection, sampled too), as an
   object; a truthy `reset` starts a new window for the peaks. */
static void xs_ota_device_profile(xsMachine* the)
{
	long figures[mxOtaFigureCount];
	int reset = (xsToInteger(xsArgc) > 0) && xsTest(xsArg(0));
	xsOtaSample(the, 1, 1);
	xsOtaFigures(the, figures, reset);
	xsResult = xsNewObject();
	for (unsigned i = 0; i < mxOtaFigureCount; i++)
		xsSet(xsResult, xsID(gxOtaFigureNames[i]), xsInteger((xsIntegerValue)figures[i]));
	xsSet(xsResult, xsID("heapBytesLimit"), xsInteger((xsIntegerValue)gxOtaHeapBytes));
	xsSet(xsResult, xsID("samples"), xsInteger((xsIntegerValue)gxOtaSamples));
	if (reset)
		gxOtaSamples = 0;
}

/* xsOtaBoundHeap(bytes): the agent's heap budget starts now; returns the live bytes now. */
static void xs_ota_bound_heap(xsMachine* the)
{
	gxOtaHeapBytes = (long)xsToInteger(xsArg(0));
	if (gxOtaHeapBytes <= 0)
		xsRangeError("heap budget must be positive");
	xsResult = xsInteger((xsIntegerValue)xsOtaBoundHeap(the, gxOtaHeapBytes));
}

void xsOtaDeviceMachine(xsMachine* the)
{
	xsBeginHost(the);
	xsVars(1);
	xsVar(0) = xsNewHostFunction(xs_ota_bound_heap, 1);
	xsDefine(xsGlobal, xsID("xsOtaBoundHeap"), xsVar(0), xsDontEnum);
	xsVar(0) = xsNewHostFunction(xs_ota_device_profile, 1);
	xsDefine(xsGlobal, xsID("xsOtaDeviceProfile"), xsVar(0), xsDontEnum);
	xsEndHost(the);
}

/*
 * xs-ota: reset the MCU so that MCUboot runs and acts on the slot trailers.
 * Zephyr include/zephyr/sys/reboot.h: FUNC_NORETURN void sys_reboot(int type);
 * SYS_REBOOT_COLD = 1. Needs CONFIG_REBOOT=y (manifest.json "zephyrConfig").
 */
#include "xsmc.h"
#include <zephyr/sys/reboot.h>

void xs_ota_sys_reboot(xsMachine *the)
{
	int type = (xsmcArgc > 0) ? xsmcToInteger(xsArg(0)) : SYS_REBOOT_COLD;
	sys_reboot(type);
}

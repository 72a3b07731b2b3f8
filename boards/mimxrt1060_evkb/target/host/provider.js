// The board's IO as mcdevicetree describes it (the Moddable Zephyr targets' host provider).
import device from "mc/devicetree";
export default device;

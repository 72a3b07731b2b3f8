export {};
//# sourceMappingURL=ota-zephyr-io.js.map
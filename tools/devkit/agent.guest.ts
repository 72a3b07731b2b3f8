/**
 * The agent as the simulated dev kit's MCU runs it: the same startAgent the device's
 * modules/main.ts calls, inside XS, on the remote platform ports (tools/xs/guest/ports.ts) that
 * the dev kit serves from Node. Rollup makes this build/xs/agent.js.
 */
import { startAgent, type StartConfig } from '../../src/agent/start.js';
import { expose } from '../xs/guest/bridge.js';
import { remotePlatform } from '../xs/guest/ports.js';

export interface GuestStartArgs {
  settings: StartConfig;
  /** The application's health check answers this after an update (a dev-kit fault knob). */
  healthy: boolean;
  randomSeed: number;
  /** The board wires the modem's STATUS to a GPIO input (Platform.modemStatus). */
  modemStatus?: boolean;
  /**
   * The application's consent hook (hawkBit confirmationBase): it confirms an offer whose version
   * is listed and denies any other. Absent: no hook, the autoConfirm setting decides.
   */
  confirmVersions?: string[];
}

expose({
  start: (args: GuestStartArgs) =>
    startAgent(remotePlatform({ modemStatus: args.modemStatus === true }), args.settings, {
      healthCheck: async () => args.healthy,
      randomSeed: args.randomSeed,
      // The hook runs here, in XS, on the offer the backend parsed, as the device's application's would.
      ...(args.confirmVersions ? { confirmDeployment: (offer) => args.confirmVersions!.includes(offer.version) } : {}),
    }),
});

import { AGENT_VERSION } from '../../src/index.js';
import { EXIT, wantsHelp } from './cli-common.js';
import type { Command } from './main.js';

export const command: Command = {
  summary: 'print the agent version',
  async run(args) {
    if (wantsHelp(args)) {
      console.log('usage: xs-ota version   prints the agent version');
      return EXIT.done;
    }
    if (args.length > 0) {
      console.error(`xs-ota version: unexpected argument '${args[0]}'`);
      return EXIT.usage;
    }
    console.log(AGENT_VERSION);
    return EXIT.done;
  },
};

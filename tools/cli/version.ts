import { AGENT_VERSION } from '../../src/index.js';
import type { Command } from './main.js';

export const command: Command = {
  summary: 'print the agent version',
  async run() {
    console.log(AGENT_VERSION);
    return 0;
  },
};

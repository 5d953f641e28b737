// `tally agent`: the metering agent publishing to a Gnocchi-compatible endpoint. Its action
// loads agent.ts (and with it the agent and its pollsters) when it runs: every `tally`
// command registers this one.
import { Option, type Command } from 'commander';
import type { AgentFlags } from './agent.js';
import type { Guard } from './main.js';

export function addAgentCommand(prog: Command, guard: Guard): void {
  prog.command('agent')
    .description("run the metering agent: polls the sources of a polling.yaml (host, libvirt, vSphere, plugins) and publishes to a Gnocchi-compatible endpoint, buffering on disk while it is away")
    .requiredOption('--config <file>', "the agent's configuration (Ceilometer's polling.yaml shape, see docs/AGENT.md)")
    .requiredOption('--gnocchi-url <url>', 'the metric API to publish to (Tally or Gnocchi)')
    .addOption(new Option('--user <name>', 'user name sent with HTTP basic auth (Gnocchi basic mode, Tally basic)').default('admin').conflicts('token'))
    .option('--password <password>', 'password sent with --user (a Tally token in auth mode token)', '')
    .option('--token <token>', 'token sent as X-Auth-Token (Keystone, or a Tally token)')
    .option('--data-dir <dir>', 'folder of the buffer and of what the agent remembers between runs', 'tally-agent')
    .option('--coordination-url <url>', 'file:///path or redis://host:port/db shared with other agents: the sources are split between them')
    .option('--name <name>', 'name of this agent among others, and of its agent resource (default: the host name)')
    .option('--log-level <level>', 'fatal | error | warn | info | debug', 'info')
    .action(guard('agent', async (flags: AgentFlags) => (await import('./agent.js')).runAgent(flags)));
}

// The client commands of `tally`: Gnocchi's metric API as the `gnocchi` CLI drives it, and
// Aodh's alarm API as the `aodh` CLI does (docs/CLI.md).
import type { Command } from 'commander';
import { addAggregatesCommands } from './aggregates.js';
import { addAlarmCommands } from './alarm.js';
import { addArchivePolicyCommands } from './archive-policy.js';
import { finishClientCommands } from './command.js';
import { addMeasuresCommands } from './measures.js';
import { addMetricCommands } from './metric.js';
import { addResourceTypeCommands } from './resource-type.js';
import { addResourceCommands } from './resource.js';

export function addClientCommands(prog: Command): void {
  addArchivePolicyCommands(prog);
  addMetricCommands(prog);
  addMeasuresCommands(prog);
  addResourceCommands(prog);
  addResourceTypeCommands(prog);
  addAggregatesCommands(prog);
  addAlarmCommands(prog);
  finishClientCommands();
}

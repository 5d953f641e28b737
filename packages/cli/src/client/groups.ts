// Command groups (`tally metric ...`) and what their commands share.
import { Command } from 'commander';
import { CLIENT_GROUP, usageExit } from './command.js';

/** A group of client commands, listed under the client heading of `tally --help`. */
export function group(prog: Command, name: string, description: string): Command {
  const g = prog.command(name).description(description).helpGroup(CLIENT_GROUP);
  usageExit(g);
  return g;
}

/** Whether the output is the table for people (gnocchi reshapes some fields for it only). */
export const isTable = (flags: Record<string, unknown>): boolean => flags.format === 'table';

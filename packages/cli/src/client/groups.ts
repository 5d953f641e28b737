// Command groups (`tally metric ...`) and what their commands share.
import { Command } from 'commander';
import type { PageQuery } from '@tally/client';
import { CLIENT_GROUP, collect, int, usageExit, type Ctx } from './command.js';

/** A group of client commands, listed under the client heading of `tally --help`. */
export function group(prog: Command, name: string, description: string): Command {
  const g = prog.command(name).description(description).helpGroup(CLIENT_GROUP);
  usageExit(g);
  return g;
}

/** Whether the output is the table for people (gnocchi reshapes some fields for it only). */
export const isTable = (flags: Record<string, unknown>): boolean => flags.format === 'table';

/** --limit, --marker, --sort and --all of the paged lists. */
export function pageOptions(cmd: Command, what: string): Command {
  return cmd
    .option('--limit <n>', `number of ${what} to return (default: the server's)`, int('limit'))
    .option('--marker <id>', `last ${what.replace(/s$/, '')} of the previous page: list the ones after it`)
    .option('--sort <key:dir>', 'sort key and direction, e.g. name:asc (repeatable)', collect)
    .option('--all', `every ${what.replace(/s$/, '')}, following the pages (progress on stderr)`);
}

/** A page, or with --all every page, counting on stderr. */
export async function pages<T>(ctx: Ctx, flags: Record<string, unknown>, what: string, one: () => Promise<T[]>, all: () => AsyncGenerator<T>): Promise<T[]> {
  if (flags.all !== true) return one();
  const items: T[] = [];
  const p = ctx.progress(`listing ${what}`, undefined, what);
  try {
    for await (const x of all()) {
      items.push(x);
      p.add(1);
    }
  } finally {
    p.finish();
  }
  return items;
}

export function pageQuery(flags: Record<string, unknown>): PageQuery {
  const q: PageQuery = {};
  if (flags.limit !== undefined) q.limit = flags.limit as number;
  if (flags.marker !== undefined) q.marker = flags.marker as string;
  if (flags.sort !== undefined) q.sort = flags.sort as string[];
  return q;
}

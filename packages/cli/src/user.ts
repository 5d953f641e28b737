// `tally user ...`: users, projects and API tokens of the `token` auth mode, kept in
// DATA_DIR/users.sqlite. A running API sees changes within --token-cache-ttl seconds.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { UserStore } from '@tally/rest';
import type { Settings } from './config.js';
import { ConfigError } from './setting-options.js';
import { colorWanted, list, render } from './client/output.js';

export function userStorePath(s: Settings): string {
  return join(s.dataDir, 'users.sqlite');
}

// @tally/rest (the user store, tokens) and the settings' validation load when a command
// runs: every `tally` command registers these.
const rest = () => import('@tally/rest');

export async function openUserStore(s: Settings): Promise<UserStore> {
  const { SqliteUserStore } = await rest();
  mkdirSync(s.dataDir, { recursive: true });
  return SqliteUserStore.open(userStorePath(s));
}

async function withStore<T>(flags: Record<string, unknown>, fn: (store: UserStore) => Promise<T>): Promise<T> {
  const { resolveSettings } = await import('./config.js');
  const store = await openUserStore(resolveSettings(flags));
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** Rows (the first one naming the columns) as the client commands print a table. */
function table(rows: string[][]): string {
  return render(list(rows[0], rows.slice(1)), { format: 'table', columns: [], color: colorWanted(process.stdout.isTTY === true) }).trimEnd();
}

const out = (line: string): void => void process.stdout.write(line + '\n');
const note = (line: string): void => void process.stderr.write(line + '\n');

/**
 * Adds `user` and its subcommands to `prog`. `withSettings` adds the shared settings
 * (--data-dir, --config...); `guard` turns usage errors into a message and an exit code.
 */
export function addUserCommands(
  prog: Command,
  withSettings: (cmd: Command) => Command,
  guard: <A extends unknown[]>(role: string, fn: (...args: A) => Promise<void>) => (...args: A) => Promise<void>,
): void {
  const user = prog.command('user').description('manage users, projects and API tokens of --auth-mode token (DATA_DIR/users.sqlite)');

  withSettings(user.command('create <name>').description('create a user in a project; its role is admin or member'))
    .requiredOption('--project <project>', 'project the user belongs to (what its resources and metrics are owned by)')
    .option('--role <role>', 'admin | member', 'member')
    .action(guard('user create', async (name: string, flags: Record<string, unknown>) => {
      const role = (await rest()).parseRole(String(flags.role));
      const u = await withStore(flags, (store) => store.createUser({ name, projectId: String(flags.project), role }));
      out(`created user ${u.name} (id ${u.id}, project ${u.projectId}, role ${u.role})`);
      note(`give it a token with: tally user token create ${u.name}`);
    }));

  withSettings(user.command('list').description('list users'))
    .action(guard('user list', async (flags: Record<string, unknown>) => {
      const { users, tokens } = await withStore(flags, async (store) => ({ users: await store.listUsers(), tokens: await store.listTokens() }));
      if (users.length === 0) {
        note('no users yet: tally user create NAME --project PROJECT --role admin');
        return;
      }
      const count = (id: string) => String(tokens.filter((t) => t.userId === id).length);
      out(table([['NAME', 'PROJECT', 'ROLE', 'TOKENS', 'CREATED', 'ID'], ...users.map((u) => [u.name, u.projectId, u.role, count(u.id), u.createdAt, u.id])]));
    }));

  withSettings(user.command('delete <name>').description('delete a user and revoke its tokens'))
    .action(guard('user delete', async (name: string, flags: Record<string, unknown>) => {
      const revoked = await withStore(flags, async (store) => {
        const n = (await store.listTokens(name)).length;
        if (!(await store.deleteUser(name))) throw new ConfigError(`no user named ${name}`);
        return n;
      });
      out(`deleted user ${name} (${revoked} token${revoked === 1 ? '' : 's'} revoked)`);
    }));

  const token = user.command('token').description("create, list and revoke users' API tokens");

  withSettings(token.command('create <name>').description('create an API token for a user and print it (it is shown only this once)'))
    .action(guard('user token create', async (name: string, flags: Record<string, unknown>) => {
      const { issueToken } = await rest();
      const t = await withStore(flags, (store) => issueToken(store, name));
      // The token alone on stdout, so that scripts can capture it.
      out(t.token);
      note(`token ${t.info.id} of ${t.user.name} (project ${t.user.projectId}, role ${t.user.role}); it is shown only this once.`);
      note('use it as "Authorization: Bearer TOKEN", or as the password of HTTP basic auth with any user name.');
    }));

  withSettings(token.command('list [name]').description('list token ids (of one user, or of everyone)'))
    .action(guard('user token list', async (name: string | undefined, flags: Record<string, unknown>) => {
      const tokens = await withStore(flags, async (store) => {
        if (name !== undefined && !(await store.getUser(name))) throw new ConfigError(`no user named ${name}`);
        return store.listTokens(name);
      });
      if (tokens.length === 0) {
        note('no tokens');
        return;
      }
      out(table([['ID', 'USER', 'CREATED'], ...tokens.map((t) => [t.id, t.userName, t.createdAt])]));
    }));

  withSettings(token.command('revoke <id>').description('revoke a token by its id, or by the token itself (running APIs stop accepting it within --token-cache-ttl seconds)'))
    .action(guard('user token revoke', async (idOrToken: string, flags: Record<string, unknown>) => {
      const id = (await rest()).parseToken(idOrToken)?.id ?? idOrToken;
      const ok = await withStore(flags, (store) => store.revokeToken(id));
      if (!ok) throw new ConfigError(`no token with id ${id}`);
      out(`revoked token ${id}`);
    }));
}

// Identity and authorisation as Gnocchi does them: an auth mode turns a request into an
// identity, and named policy rules (Gnocchi's defaults) decide what that identity may do.
import { HttpError, forbidden } from './errors.js';

export type AuthMode = 'basic' | 'noauth' | 'remoteuser';

export interface Identity {
  userId: string;
  projectId: string | null;
  roles: string[];
  /** What Gnocchi records as `creator`: "user" (basic) or "user:project" (noauth). */
  creator: string;
}

type Headers = Record<string, string | string[] | undefined>;

function header(h: Headers, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

function unauthorized(): HttpError {
  return new HttpError(401, 'This server could not verify that you are authorized to access the document you requested.', {
    'www-authenticate': 'Basic realm="gnocchi"',
  });
}

function fromBasic(h: Headers): Identity {
  const auth = header(h, 'authorization');
  const m = auth ? /^basic\s+(\S+)$/i.exec(auth.trim()) : null;
  if (!m) throw unauthorized();
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const user = decoded.split(':')[0];
  if (!user) throw unauthorized();
  // Gnocchi's basic mode: the user name is the identity; "admin" is the administrator.
  return { userId: user, projectId: null, roles: user === 'admin' ? ['admin'] : [], creator: user };
}

function fromNoauth(h: Headers): Identity {
  const userId = header(h, 'x-user-id');
  const projectId = header(h, 'x-project-id') ?? null;
  if (!userId && !projectId) throw unauthorized();
  const roles = (header(h, 'x-roles') ?? '').split(',').map((r) => r.trim()).filter(Boolean);
  const user = userId ?? '';
  return { userId: user, projectId, roles, creator: `${user}:${projectId ?? ''}` };
}

function fromRemoteUser(h: Headers, remoteUserHeader: string): Identity {
  const user = header(h, remoteUserHeader);
  if (!user) throw unauthorized();
  return { userId: user, projectId: null, roles: user === 'admin' ? ['admin'] : [], creator: user };
}

export function authenticate(mode: AuthMode, h: Headers, remoteUserHeader = 'x-remote-user'): Identity {
  switch (mode) {
    case 'basic':
      return fromBasic(h);
    case 'noauth':
      return fromNoauth(h);
    case 'remoteuser':
      return fromRemoteUser(h, remoteUserHeader);
  }
}

/** What a rule is checked against: the owner fields of the object acted on. */
export interface Target {
  creator?: string | null;
  createdByProjectId?: string | null;
  projectId?: string | null;
  resourceProjectId?: string | null;
}

export const isAdmin = (id: Identity): boolean => id.roles.includes('admin');

const sameProject = (id: Identity, project: string | null | undefined): boolean =>
  !!id.projectId && !!project && id.projectId === project;

const adminOrCreator = (id: Identity, t: Target): boolean =>
  isAdmin(id) || (t.creator != null && id.creator === t.creator) || sameProject(id, t.createdByProjectId);

const rules = {
  everyone: (): boolean => true,
  admin: (id: Identity): boolean => isAdmin(id),
  adminOrCreator,
  adminOrCreatorOrOwner: (id: Identity, t: Target): boolean =>
    adminOrCreator(id, t) || sameProject(id, t.projectId) || sameProject(id, t.resourceProjectId),
} satisfies Record<string, (id: Identity, t: Target) => boolean>;

/** Gnocchi's default policy, by action name. */
const POLICY: Record<string, keyof typeof rules> = {
  'get status': 'admin',
  'create archive policy': 'admin',
  'update archive policy': 'admin',
  'delete archive policy': 'admin',
  'get archive policy': 'everyone',
  'list archive policy': 'everyone',
  'create archive policy rule': 'admin',
  'update archive policy rule': 'admin',
  'delete archive policy rule': 'admin',
  'get archive policy rule': 'everyone',
  'list archive policy rule': 'everyone',
  'create metric': 'everyone',
  'list metric': 'everyone',
  'list all metric': 'admin',
  'get metric': 'adminOrCreatorOrOwner',
  'delete metric': 'adminOrCreator',
  'get measures': 'adminOrCreatorOrOwner',
  'post measures': 'adminOrCreator',
  'create resource': 'everyone',
  'get resource': 'adminOrCreatorOrOwner',
  'update resource': 'adminOrCreator',
  'delete resource': 'adminOrCreator',
  'list resource': 'everyone',
  'list all resource': 'admin',
};

export function allowed(action: string, id: Identity, target: Target = {}): boolean {
  const rule = POLICY[action];
  if (!rule) throw new Error(`no policy for action ${action}`);
  return rules[rule](id, target);
}

export function enforce(action: string, id: Identity, target: Target = {}): void {
  if (!allowed(action, id, target)) throw forbidden();
}

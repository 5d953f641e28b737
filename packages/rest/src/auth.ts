// Identity and authorisation as Gnocchi does them: an auth mode turns a request into an
// identity, and named policy rules (Gnocchi's defaults) decide what that identity may do.
import type { FastifyInstance } from 'fastify';
import { HttpError, forbidden } from './errors.js';

/**
 * `basic`, `noauth` and `remoteuser` are Gnocchi's modes: each trusts what the client (or a
 * proxy in front) says about itself. `token` is Tally's own: API tokens of users stored
 * hashed (see tokens.ts, users.ts).
 */
export type AuthMode = 'basic' | 'noauth' | 'remoteuser' | 'token';
export const AUTH_MODES: readonly AuthMode[] = ['basic', 'noauth', 'remoteuser', 'token'];

/**
 * Whether identities of `mode` carry a project that lists must be filtered by (Gnocchi does
 * it for keystone and noauth; its basic and remote-user modes have no project).
 */
export const listsFilteredByProject = (mode: AuthMode): boolean => mode === 'noauth' || mode === 'token';

export interface Identity {
  userId: string;
  projectId: string | null;
  roles: string[];
  /** What Gnocchi records as `creator`: "user" (basic) or "user:project" (noauth, token). */
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
  // Like Python's b64decode: characters outside the alphabet are dropped, and what is left
  // must be correctly padded; Node's decoder would accept anything.
  const b64 = m[1].replace(/[^A-Za-z0-9+/=]/g, '');
  if (b64.length % 4 !== 0 || /=[^=]/.test(b64)) throw unauthorized();
  const decoded = Buffer.from(b64, 'base64').toString('utf8');
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
    case 'token':
      return fromToken(h);
  }
}

// ---- token mode -------------------------------------------------------------------------

/** Checks an API token; null when it is unknown, revoked or malformed. */
export interface TokenVerifier {
  verify(token: string): Promise<Identity | null>;
}

/**
 * The token a request carries: `Authorization: Bearer T`; HTTP basic with T as the password
 * and any user name, or with T as the user name and no password (gnocchiclient's
 * gnocchi-basic plugin sends only a user); or `X-Auth-Token: T` (keystoneauth's token
 * plugins). Null when it carries none.
 */
export function requestToken(h: Headers): string | null {
  const auth = header(h, 'authorization')?.trim();
  if (auth) {
    const bearer = /^bearer\s+(\S+)$/i.exec(auth);
    if (bearer) return bearer[1];
    const basic = /^basic\s+(\S+)$/i.exec(auth);
    if (basic) {
      const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const password = colon < 0 ? '' : decoded.slice(colon + 1);
      if (password) return password;
      // gnocchiclient's gnocchi-basic plugin sends only a user name: accept the token there.
      const user = colon < 0 ? decoded : decoded.slice(0, colon);
      return user.startsWith('tally_') ? user : null;
    }
    return null;
  }
  const xAuth = header(h, 'x-auth-token')?.trim();
  return xAuth || null;
}

// Identities proven by the onRequest hook, keyed by the request's header object: routes ask
// for the identity synchronously (ctx.identity), while checking a token may need a hash.
const proven = new WeakMap<object, Identity>();

function fromToken(h: Headers): Identity {
  const id = proven.get(h);
  if (!id) {
    throw new HttpError(401, 'This server could not verify that you are authorized to access the document you requested.', {
      'www-authenticate': 'Bearer realm="tally", Basic realm="gnocchi"',
    });
  }
  return id;
}

/**
 * Token mode: checks the request's token before routing, once per request, and records the
 * identity for `authenticate`. A request without a valid token is refused (401) only when a
 * route asks who it is, as in the other modes (the version document stays public).
 */
export function installTokenAuth(app: FastifyInstance, verifier: TokenVerifier): void {
  app.addHook('onRequest', async (req) => {
    const token = requestToken(req.headers);
    if (token === null) return;
    let id: Identity | null;
    try {
      id = await verifier.verify(token);
    } catch (err) {
      if (err instanceof HttpError) throw err;
      req.log.error({ err }, 'token verification failed');
      throw new HttpError(503, 'Tally cannot check credentials right now.');
    }
    if (id) proven.set(req.headers, id);
  });
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
  'create resource type': 'admin',
  'update resource type': 'admin',
  'delete resource type': 'admin',
};

export function allowed(action: string, id: Identity, target: Target = {}): boolean {
  const rule = POLICY[action];
  if (!rule) throw new Error(`no policy for action ${action}`);
  return rules[rule](id, target);
}

export function enforce(action: string, id: Identity, target: Target = {}): void {
  if (!allowed(action, id, target)) throw forbidden();
}

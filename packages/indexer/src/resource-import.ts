// Writing a resource together with its history, each revision with the timestamps it had in
// the store it comes from. createResource and updateResource stamp revisions with the
// clock, which would lose when each revision began: a copied history must read back as
// the original did (revision_start, revision_end, ETags derived from them).
import type { Ctx } from './context.js';
import { classifyDbError } from './db-errors.js';
import { InvalidResourceHistory, InvalidResourceId, ResourceAlreadyExists, StartAfterEnd } from './errors.js';
import { parseUuid } from './resource-id.js';
import { checkAttributes, checkResourceFields, insertTypeRow, loadCurrent } from './resources.js';
import { activeType } from './rt-store.js';
import type { ImportedResource, ImportedRevision, Resource } from './types.js';

function checkRevisions(id: string, revisions: readonly ImportedRevision[]): void {
  if (revisions.length === 0) throw new InvalidResourceHistory(id, 'no revision');
  for (let i = 0; i < revisions.length; i++) {
    const r = revisions[i];
    const last = i === revisions.length - 1;
    if (last !== (r.revisionEnd === null)) {
      throw new InvalidResourceHistory(id, 'only the last revision has no revision_end');
    }
    if (r.revisionEnd !== null && r.revisionEnd < r.revisionStart) {
      throw new InvalidResourceHistory(id, 'a revision ends before it starts');
    }
    if (i > 0 && r.revisionStart <= revisions[i - 1].revisionStart) {
      throw new InvalidResourceHistory(id, 'revisions must be given oldest first, with distinct revision_start');
    }
    if (r.endedAt !== null && r.startedAt > r.endedAt) throw new StartAfterEnd();
  }
}

export async function importResource(ctx: Ctx, ir: ImportedResource): Promise<Resource> {
  const id = parseUuid(ir.id);
  if (id === null) throw new InvalidResourceId('badly formed hexadecimal UUID string');
  checkRevisions(id, ir.revisions);
  for (const r of ir.revisions) checkResourceFields(ir.originalResourceId, r.userId, r.projectId, ir.creator);
  return ctx.write(async (tx) => {
    const info = await activeType(tx, ctx.dialect, ir.type, 'share');
    // Every revision is checked against the type before anything is written.
    const attrs = ir.revisions.map((r) => checkAttributes(ctx, info, ir.type, r.attributes, true));
    if (await tx.selectFrom('resource').select('id').where('id', '=', id).executeTakeFirst() !== undefined) {
      throw new ResourceAlreadyExists(id);
    }
    const base = (r: ImportedRevision) => ({
      id, type: ir.type, creator: ir.creator, user_id: r.userId, project_id: r.projectId,
      original_resource_id: ir.originalResourceId, started_at: r.startedAt, revision_start: r.revisionStart, ended_at: r.endedAt,
    });
    const current = ir.revisions[ir.revisions.length - 1];
    try {
      await tx.insertInto('resource').values(base(current)).execute();
    } catch (e) {
      if (classifyDbError(e) === 'unique') throw new ResourceAlreadyExists(id);
      throw e;
    }
    if (info.name !== 'generic') await insertTypeRow(tx, info.tablename, 'id', id, attrs[attrs.length - 1]);
    for (let i = 0; i < ir.revisions.length - 1; i++) {
      const r = ir.revisions[i];
      const inserted = await tx.insertInto('resource_history').values({ ...base(r), revision_end: r.revisionEnd as bigint })
        .returning('revision').executeTakeFirstOrThrow();
      if (info.name !== 'generic') {
        await insertTypeRow(tx, `${info.tablename}_history`, 'revision', Number(inserted.revision), attrs[i]);
      }
    }
    return (await loadCurrent(tx, info, id)) as Resource;
  });
}

import { ErrorCode, RhizomeError } from '@rhizome/protocol'
import * as Y from 'yjs'

/**
 * Deepest nesting of shared types (a Y.Map in a Y.Map in ...) a document may reach; a root type is
 * depth 0. Yjs deletes and garbage-collects nested types recursively, one stack frame group per
 * level: on Node's default stack, deleting a chain of about 2,000 nested maps overflows it inside
 * the transaction cleanup, which leaves the Y.Doc unable to emit updates, and a joiner that loads
 * such a state overflows its own stack. Real documents nest a few dozen levels (rich-text trees),
 * so 256 leaves room for them and a wide margin for smaller stacks (browsers, workers).
 */
export const MAX_NESTING_DEPTH = 256

/**
 * Refuses transactions that nest shared types deeper than {@link MAX_NESTING_DEPTH}. Depths are
 * memoised per type (a type's depth never changes: Yjs has no move), so checking a transaction
 * costs O(new structs) plus one walk up for types first seen since the document was loaded.
 */
export class NestingLimit {
  readonly #depths = new WeakMap<Y.AbstractType<unknown>, number>()

  constructor(readonly max = MAX_NESTING_DEPTH) {}

  /**
   * Checks every struct `tr` added to `doc` so far for `clients` (those an applied update carries).
   * Call it inside the transaction, after the update was applied, so that a refusal happens before
   * the transaction's cleanup garbage-collects.
   * @throws RhizomeError PROTOCOL_MALFORMED when a new shared type nests deeper than the limit.
   */
  check(doc: Y.Doc, tr: Y.Transaction, clients: Iterable<number>): void {
    for (const client of clients) {
      const structs = doc.store.clients.get(client)
      if (structs === undefined) continue
      const before = tr.beforeState.get(client) ?? 0
      const last = structs[structs.length - 1]
      if (last === undefined || last.id.clock + last.length <= before) continue
      for (let i = before === 0 ? 0 : Y.findIndexSS(structs, before); i < structs.length; i++) {
        const struct = structs[i]
        if (!(struct instanceof Y.Item) || !(struct.content instanceof Y.ContentType)) continue
        const depth = this.depthOf(struct.content.type)
        if (depth > this.max) {
          throw new RhizomeError(
            ErrorCode.PROTOCOL_MALFORMED,
            `shared types nested deeper than ${this.max} levels`,
          )
        }
      }
    }
  }

  /** Nesting depth of an integrated shared type (0 for a root type). */
  depthOf(type: Y.AbstractType<unknown>): number {
    const path: Y.AbstractType<unknown>[] = []
    let at: Y.AbstractType<unknown> = type
    let depth = 0
    // Iterative on purpose: a recursive walk would overflow on exactly the documents refused here.
    for (;;) {
      const known = this.#depths.get(at)
      if (known !== undefined) {
        depth = known
        break
      }
      const item = at._item
      if (item === null || !(item.parent instanceof Y.AbstractType)) break
      path.push(at)
      at = item.parent
    }
    for (let i = path.length - 1; i >= 0; i--) this.#depths.set(path[i]!, ++depth)
    return this.#depths.get(type) ?? depth
  }
}

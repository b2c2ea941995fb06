/**
 * The client SDK for tests outside the root test package (server/test): resolved from here, where
 * `@rhizome/client` is a dependency, so those tests drive a real device replica.
 */
export { openReplica, type Replica } from '@rhizome/client'

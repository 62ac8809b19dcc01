/**
 * The agent's access-control list: parse (`parseAcl`, `loadAcl`) and decide
 * (`decide`, `decideAll`, `limitFor`), as the README's "Access control" section
 * describes. The `acl` namespace of `netfd/agent`.
 *
 * @module
 */
export { ACL_MODES, Acl, AclObject, describe, formatSize, globMatch, Limit, LIMIT_KINDS, LimitKind, loadAcl, MAX_INCLUDE_DEPTH, ObjectKind, parseAcl, Rule, Subject } from './syntax';
export { Caller, decide, decideAll, Decision, interfaceLimit, limitFor, mayAskAnything, unknownNames } from './decide';
export type { Accounts } from './accounts';

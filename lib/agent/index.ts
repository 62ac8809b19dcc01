/**
 * `netfd/agent`: the privileged host agent (`netfd agent`), its client for
 * unprivileged VM managers, the wire protocol and the ACL.
 *
 * A second entry point so that `require('netfd')` does not load the agent
 * (nor its logger, pino). A VM manager that runs as an ordinary user uses
 * {@link AgentClient} and {@link launchViaAgent}; for a hotplug through the
 * agent it does the QMP half itself with {@link qmpAttach} and
 * {@link qmpDetach}.
 *
 * @module netfd/agent
 */

export { Agent } from './server';
export { AgentOptions, AgentLogger, DEFAULT_ACL, DEFAULT_STOP_TIMEOUT_MS } from './options';
export { DomainRecord, DeviceRecord } from './records';
export { USER_LIMITS } from './admission';
export { aclObjects } from './objects';
export { AgentClient, Answer } from './client';
export { launchViaAgent, AgentLaunched, PreparedByAgent, clientStateDir } from './launch';
export { PROTOCOL_VERSION, DEFAULT_SOCKET, MAX_REQUEST, MAX_REPLY, OPS, Op, Request, Reply, ErrorBody } from './protocol';
export * as acl from './acl';
export { Accounts, fileAccounts } from './acl/accounts';
export { qmpAttach, qmpDetach, QemuNic, Placed } from '../qemu/hotplug';

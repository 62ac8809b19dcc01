// What an interface touches on the host, as ACL objects. Pure: shared by the
// agent and its parsing worker, which must not load the rest of the agent.
import type { AclObject } from './acl/syntax';
import type { InterfaceDef } from '../xml/domain';

/** What an interface touches on the host, for the ACL. */
export function aclObjects(i: InterfaceDef): AclObject[] {
  const objs: AclObject[] = [];
  if (i.type === 'bridge') objs.push({ kind: 'bridge', value: i.source.bridge as string });
  else if (i.type === 'direct') objs.push({ kind: 'dev', value: i.source.dev as string }, { kind: 'mode', value: i.source.mode ?? 'vepa' });
  else if (i.type === 'network') objs.push({ kind: 'network', value: i.source.network as string });
  else if (i.target?.managed !== false) objs.push({ kind: 'ethernet' });
  // A device name of the caller's choosing (a host may need it later, e.g.
  // br1): only with a devname rule; otherwise omit <target dev> and get
  // vnet%d / macvtap%d.
  if (i.target?.dev !== undefined && i.target.managed !== false) objs.push({ kind: 'devname', value: i.target.dev });
  // Opening an existing device (managed='no': it may be another guest's),
  // device paths (the agent would open them as root), scripts (it would run
  // them as root), host addresses and routes (they change the host's routing)
  // and VLANs (another tenant's may be on the bridge) are only for `all`.
  // <bandwidth> needs no rule of its own: tc runs on the caller's own new
  // tap or macvtap and can only slow that device down.
  if (
    i.target?.managed === false ||
    i.backend.tap !== undefined ||
    i.backend.vhost !== undefined ||
    i.script !== undefined ||
    i.downscript !== undefined ||
    i.hostIp !== undefined ||
    i.vlan !== undefined
  )
    objs.push({ kind: 'all' });
  return objs;
}

/** One interface as the ACL sees it: where it is, what it touches, the value a refusal names. */
export interface InterfaceObjects {
  path: string;
  objects: AclObject[];
  value: string;
}

export function interfaceObjects(i: InterfaceDef): InterfaceObjects {
  return { path: i.path, objects: aclObjects(i), value: i.source.bridge ?? i.source.dev ?? i.source.network ?? i.target?.dev ?? i.type };
}

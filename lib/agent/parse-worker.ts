// The agent's XML parsing off its event loop: a worker thread that parses a
// domain (or an interface to attach to a live domain) and answers only what
// the ACL needs, so a request the ACL refuses never costs the agent's own
// thread the parse (about 1 ms per KiB of XML). Messages:
//   in   {id, kind: 'domain', text} | {id, kind: 'interface', live, text}
//   out  {id, ok: true, name, interfaces: InterfaceObjects[]} | {id, ok: false, error}
import { parentPort } from 'node:worker_threads';
import { DomainXml } from '../xml/domain';
import { interfaceObjects } from './objects';
import { parseErrorInfo } from './parser';

type Job = { id: number; kind: 'domain'; text: string } | { id: number; kind: 'interface'; live: string; text: string };

parentPort?.on('message', (job: Job) => {
  try {
    if (job.kind === 'domain') {
      const def = DomainXml.parse(job.text).def;
      parentPort?.postMessage({ id: job.id, ok: true, name: def.name, interfaces: def.interfaces.map(interfaceObjects) });
    } else {
      const { iface } = DomainXml.parse(job.live, { live: true }).withInterface(job.text);
      parentPort?.postMessage({ id: job.id, ok: true, name: '', interfaces: [interfaceObjects(iface)] });
    }
  } catch (e) {
    parentPort?.postMessage({ id: job.id, ok: false, error: parseErrorInfo(e) });
  }
});

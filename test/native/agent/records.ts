// The agent's records (lib/agent/records.ts) as an in-process agent recovers
// them at start: records it cannot read are reported and left alone, every
// other file of a user's directory is classified.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { agentIn } from '../../helpers/agent-in-process';

t.test('a missing ACL refuses everything; unreadable records are reported and left alone; every file is classified', async (t) => {
  const { dir, client, log } = await agentIn(t, null, {
    '4242/bad.json': '{',
    '4242/other.json': '{"name":"x"}',
    '4242/.dot.json': '{"name":".dot","uid":1}',
    '4242/weird.txt': 'x',
    '4242/.vm1.json.77.abc.tmp': '',
    '4242/orphan.xml': '<domain/>',
    'legacy.json': '{}',
  });
  t.ok(
    log.lines().some((l) => l.level === 40 && /does not exist: every request is refused/.test(String(l.msg))),
    'the agent warns that it refuses everything',
  );
  const e = await client.request('prepare', { xml: "<domain type='qemu'><name>d</name><memory>65536</memory><devices><interface type='ethernet'/></devices></domain>" }).catch((x) => x);
  t.match(e, { code: 'ACCESS_DENIED', rule: 'default deny' });
  t.same(
    fs.readdirSync(path.join(dir, 'state', 'agent', '4242')).sort(),
    ['.dot.json', 'bad.json', 'orphan.xml', 'other.json', 'weird.txt'],
    'records it cannot read stay; the temporary file is gone',
  );
  const msgs = log.lines().map((l) => String(l.msg));
  t.equal(msgs.filter((m) => /^unreadable record/.test(m)).length, 3, 'each unreadable record is logged, a name starting with . too');
  t.ok(
    msgs.some((m) => /weird\.txt; left alone$/.test(m) && m.startsWith('cannot classify')),
    'a file it cannot classify is logged',
  );
  t.ok(
    msgs.some((m) => /orphan\.xml belongs to no record/.test(m)),
    'a live XML without a record is logged',
  );
  t.ok(
    msgs.some((m) => /legacy\.json is not a user's directory/.test(m)),
    "a file beside the users' directories is logged",
  );
  t.ok(msgs.some((m) => /removed a temporary file/.test(m)));
});

// The deletion queue's journal, read back (lib/agent/reaper.ts): which
// directories are entries, how an entry's files are sorted, which JSON is a
// record. Pure: no host.
import t from 'tap';
import { classifyEntry, entryOf } from '../../../lib/agent/reaper';
import { isRecordOf } from '../../../lib/agent/records';

t.test('entryOf: UID.GROUP or UID.GROUP.N, nothing else', async (t) => {
  t.same(entryOf('1000.305419896'), { uid: 1000, group: 305419896 });
  t.same(entryOf('0.16777216.2'), { uid: 0, group: 16777216 });
  for (const bad of ['1000', '1000.', '.1000.5', 'a.5', '1000.5.x', '1000.5.1.2', '1000.5 ', '12345678901.5', '../1.2']) t.equal(entryOf(bad), null, `${JSON.stringify(bad)} is no entry`);
});

t.test("classifyEntry: one domain's record and parts; temporaries; unknown", async (t) => {
  t.same(classifyEntry(['vm.json', 'vm.xml', 'vm.inactive', 'vm.lock']), { name: 'vm', record: 'vm.json', parts: ['vm.xml', 'vm.inactive', 'vm.lock'], temporaries: [], unknown: [] }, 'a whole entry');
  t.same(classifyEntry(['vm.xml', 'vm.inactive']), { name: 'vm', record: null, parts: ['vm.xml', 'vm.inactive'], temporaries: [], unknown: [] }, 'a move cut short before the record');
  t.same(classifyEntry(['.vm.json.123.abc.tmp', '.vm.json.4567']), { name: null, record: null, parts: [], temporaries: ['.vm.json.123.abc.tmp', '.vm.json.4567'], unknown: [] }, 'temporaries only');
  t.same(classifyEntry([]), { name: null, record: null, parts: [], temporaries: [], unknown: [] }, 'empty');
  t.same(classifyEntry(['.hidden.json', '.hidden.xml']), { name: '.hidden', record: '.hidden.json', parts: ['.hidden.xml'], temporaries: [], unknown: [] }, 'a name with a leading dot');
  t.same(classifyEntry(['vm.json', 'notes.txt', 'core']), { name: 'vm', record: 'vm.json', parts: [], temporaries: [], unknown: ['notes.txt', 'core'] }, 'other files are unknown');
  t.same(classifyEntry(['a.json', 'b.xml']), { name: null, record: null, parts: [], temporaries: [], unknown: ['a.json', 'b.xml'] }, "two domains' files: all unknown");
  t.same(classifyEntry(['a.b.json', 'a.b.xml']), { name: 'a.b', record: 'a.b.json', parts: ['a.b.xml'], temporaries: [], unknown: [] }, 'a name with a dot');
});

t.test('isRecordOf: an agent record of that uid (and name)', async (t) => {
  const r = { name: 'vm', uid: 1000, gid: 1000, pid: 1, state: 'releasing', xml: '<domain/>', macs: [], group: 305419896, devices: [], interfaces: 1, since: 'x' };
  t.ok(isRecordOf(r, 1000));
  t.ok(isRecordOf(r, 1000, 'vm'));
  t.notOk(isRecordOf(r, 1001), 'another uid');
  t.notOk(isRecordOf(r, 1000, 'other'), 'another name');
  t.notOk(isRecordOf({ ...r, group: 1.5 }, 1000), 'a group that is no integer');
  t.notOk(isRecordOf({ ...r, macs: undefined }, 1000), 'no MACs');
  t.notOk(isRecordOf({ ...r, devices: {} }, 1000), 'devices not a list');
  t.notOk(isRecordOf(null, 1000), 'null');
  t.notOk(isRecordOf('vm', 1000), 'a string');
});

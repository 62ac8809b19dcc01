// CNI error codes: the table from netfd's codes is total and distinct, and
// the error object a plugin prints. Pure.
import t from 'tap';
import { NETFD_CODES, NetfdError } from '../../../lib/errors';
import { CHECK_FAILED, CNI_CODES, cniCodeOf, CniError, errorJson, ERRNO_TO_CNI, invalidConfig, NETFD_TO_CNI, unsupportedField } from '../../../lib/cni/errors';
import { golden } from '../../helpers/cni-golden';

t.test('every netfd code has a CNI code; netfd-only ones are distinct and 100 or more', async (t) => {
  t.same(Object.keys(NETFD_TO_CNI).sort(), Object.keys(NETFD_CODES).sort());
  const wellKnown = new Set<number>(Object.values(CNI_CODES));
  const own = Object.values(NETFD_TO_CNI).filter((c) => !wellKnown.has(c));
  t.equal(new Set(own).size, own.length, 'distinct');
  t.ok(
    own.every((c) => c >= 100),
    '100+',
  );
  const errnoOwn = Object.values(ERRNO_TO_CNI).filter((c) => !wellKnown.has(c));
  t.ok(
    errnoOwn.every((c) => c >= 100 && !own.includes(c)),
    'errno codes apart',
  );
  t.notOk([...own, ...errnoOwn].includes(CHECK_FAILED), 'CHECK_FAILED apart');
  golden(t, 'codes', { wellKnown: CNI_CODES, netfd: NETFD_TO_CNI, errno: ERRNO_TO_CNI, checkFailed: CHECK_FAILED });
});

t.test('cniCodeOf', async (t) => {
  t.equal(cniCodeOf('NOT_SUPPORTED'), 2);
  t.equal(cniCodeOf('INVALID_ARGUMENT'), 7);
  t.equal(cniCodeOf('RATE_LIMITED'), 11);
  t.equal(cniCodeOf('EBUSY'), 11);
  t.equal(cniCodeOf('EEXIST'), 130);
  t.equal(cniCodeOf('EIO'), 5, 'other errnos are I/O failures');
  t.equal(cniCodeOf(undefined), 5);
});

t.test('errorJson', async (t) => {
  golden(t, 'errors', {
    cni: errorJson('1.0.0', new CniError(4, 'invalid environment: CNI_NETNS is not set (ADD needs it)')),
    withDetails: errorJson('0.3.1', new CniError(11, 'the agent is not running', 'connect /run/netfd/agent.sock: ENOENT')),
    unsupported: errorJson('1.1.0', unsupportedField('ipMasq', true, 'netfd sets up no masquerade')),
    invalid: errorJson('1.1.0', invalidConfig('mtu', 9, 'an integer from 68 to 65535')),
    netfd: errorJson('1.1.0', new NetfdError("<driver name='vhost'> but /dev/vhost-net is missing", { code: 'VHOST_UNAVAILABLE', hint: 'modprobe vhost_net' })),
    field: errorJson('1.1.0', new NetfdError('access denied: no rule', { code: 'ACCESS_DENIED', field: 'interface', value: 'ethernet' })),
    system: errorJson('1.1.0', Object.assign(new Error('a link named net1 already exists'), { code: 'EEXIST' })),
    thrownString: errorJson('1.1.0', 'boom'),
  });
});

// The agent's wire protocol (lib/agent/protocol.ts) as pure functions:
// golden encodings, every refusal of parseRequest with its exact code,
// field and value, and a seeded fuzz that may only ever produce a Request or
// one of the three request errors.
import t from 'tap';
import { NetfdError } from '../../../lib/errors';
import { encodeRequest, errorBody, errorReply, idOf, okReply, Op, OPS, parseReply, parseRequest, PROTOCOL_VERSION, replyError, Request } from '../../../lib/agent/protocol';
import { refused } from '../../helpers/refused';

const buf = (x: unknown): Buffer => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x));
/** A request object with `over` merged in (a key set to undefined is dropped by JSON). */
const req = (over: Record<string, unknown> = {}): Buffer => buf({ v: 1, id: 7, op: 'hello', args: {}, ...over });

type ArgType = 'string' | 'boolean' | 'string[]';
const sample: Record<ArgType, unknown> = { string: 'x', boolean: true, 'string[]': ['a', 'b'] };
const specOf = (op: Op) => OPS[op] as Record<string, readonly [ArgType, boolean]>;
const ops = Object.keys(OPS) as Op[];

t.test('golden encodings', async (t) => {
  t.equal(PROTOCOL_VERSION, 1);
  t.equal(encodeRequest(7, 'prepare', { xml: '<domain/>' }).toString(), '{"v":1,"id":7,"op":"prepare","args":{"xml":"<domain/>"}}');
  t.equal(encodeRequest(1, 'hello').toString(), '{"v":1,"id":1,"op":"hello","args":{}}', 'args default to {}');
  t.equal(okReply(7, { name: 'vm' }).toString(), '{"v":1,"id":7,"ok":true,"result":{"name":"vm"}}', 'no fds: no fds key');
  t.equal(okReply(7, { name: 'vm' }, 0).toString(), '{"v":1,"id":7,"ok":true,"result":{"name":"vm"}}', 'fds 0: no fds key');
  t.equal(okReply(7, { name: 'vm' }, 2).toString(), '{"v":1,"id":7,"ok":true,"result":{"name":"vm"},"fds":2}');
  t.equal(okReply(null, null).toString(), '{"v":1,"id":null,"ok":true,"result":null}');

  const withField = new NetfdError('bad xml', { code: 'INVALID_ARGUMENT', field: 'args.xml', value: 'x' });
  t.equal(errorReply(3, withField).toString(), '{"v":1,"id":3,"ok":false,"error":{"code":"INVALID_ARGUMENT","message":"bad xml","field":"args.xml","value":"x"}}');
  const undefinedValue = new NetfdError('needs a name', { code: 'BAD_REQUEST', field: 'args.name', value: undefined });
  t.equal(
    errorReply(4, undefinedValue).toString(),
    '{"v":1,"id":4,"ok":false,"error":{"code":"BAD_REQUEST","message":"needs a name","field":"args.name","value":null}}',
    'an undefined value is sent as null, so the field keeps its value key',
  );
  const denied = Object.assign(new NetfdError('bob may not use br0', { code: 'ACCESS_DENIED', field: 'bridge', value: 'br0' }), { rule: '/etc/netfd/acl:3 deny user bob bridge br0' });
  t.equal(
    errorReply(5, denied).toString(),
    '{"v":1,"id":5,"ok":false,"error":{"code":"ACCESS_DENIED","message":"bob may not use br0","field":"bridge","value":"br0","rule":"/etc/netfd/acl:3 deny user bob bridge br0"}}',
  );
  const ruleOnly = Object.assign(new Error('too many'), { code: 'LIMIT_EXCEEDED', rule: 'acl:9 limit taps 4' });
  t.equal(errorReply(6, ruleOnly).toString(), '{"v":1,"id":6,"ok":false,"error":{"code":"LIMIT_EXCEEDED","message":"too many","rule":"acl:9 limit taps 4"}}', 'a rule without a field');
  t.equal(errorReply(null, new Error('boom')).toString(), '{"v":1,"id":null,"ok":false,"error":{"code":"EUNKNOWN","message":"boom"}}', 'a plain Error');
  t.equal(errorReply(null, 'just text').toString(), '{"v":1,"id":null,"ok":false,"error":{"code":"EUNKNOWN","message":"just text"}}', 'a thrown string');
  t.equal(errorReply(8, undefined).toString(), '{"v":1,"id":8,"ok":false,"error":{"code":"EUNKNOWN","message":"undefined"}}', 'undefined');
  t.equal(errorReply(9, 42).toString(), '{"v":1,"id":9,"ok":false,"error":{"code":"EUNKNOWN","message":"42"}}', 'a number');
  const sys = Object.assign(new Error('open /dev/net/tun: no such file'), { code: 'ENOENT', errno: -2, syscall: 'open' });
  t.equal(errorReply(10, sys).toString(), '{"v":1,"id":10,"ok":false,"error":{"code":"ENOENT","message":"open /dev/net/tun: no such file"}}', 'a system error keeps its code only');
  t.strictSame(errorBody({ code: 5, message: ['x'], field: 7, rule: 1 }), { code: 'EUNKNOWN', message: '[object Object]' }, 'wrong-typed properties are ignored');
});

t.test('parseRequest accepts every op with valid args', async (t) => {
  t.strictSame(
    [...ops].sort(),
    [
      'attach',
      'claim',
      'cni',
      'cni-claim',
      'detach',
      'dumpxml',
      'hello',
      'list',
      'net-autostart',
      'net-define',
      'net-destroy',
      'net-dumpxml',
      'net-list',
      'net-start',
      'net-undefine',
      'prepare',
      'probe',
      'record-pci',
      'release',
      'set-running',
    ],
    'the ops this test knows',
  );
  let id = 0;
  for (const op of ops) {
    const spec = specOf(op);
    const required = Object.fromEntries(
      Object.entries(spec)
        .filter(([, [, r]]) => r)
        .map(([k, [type]]) => [k, sample[type]]),
    );
    const all = Object.fromEntries(Object.entries(spec).map(([k, [type]]) => [k, sample[type]]));
    for (const args of [required, all]) {
      id++;
      const got = parseRequest(encodeRequest(id, op, args));
      t.strictSame(got, { v: 1, id, op, args } satisfies Request, `${op} ${JSON.stringify(args)}`);
    }
    if (Object.keys(required).length === 0) {
      t.strictSame(parseRequest(buf({ v: 1, id: 0, op })), { v: 1, id: 0, op, args: {} }, `${op} without args`);
      refused(t, () => parseRequest(buf({ v: 1, id: 0, op, args: null })), { code: 'BAD_REQUEST', field: 'args', value: null }, /args must be an object, not null/);
    }
  }
  t.strictSame(parseRequest(buf({ v: 1, id: 3, op: 'probe', args: { only: [] } })).args, { only: [] }, 'an empty string[]');
  t.strictSame(parseRequest(buf({ v: 1, id: 3, op: 'dumpxml', args: { name: 'vm', inactive: false } })).args, { name: 'vm', inactive: false }, 'false is a boolean');
  t.strictSame(parseRequest(buf({ v: 1, id: 3, op: 'release', args: { name: '' } })).args, { name: '' }, 'an empty string is a string');
  t.equal(parseRequest(buf({ v: 1, id: Number.MAX_SAFE_INTEGER, op: 'hello' })).id, Number.MAX_SAFE_INTEGER, 'the largest id');
  t.equal(parseRequest(buf({ v: 1, id: 1, op: 'hello', extra: 'ignored' })).op, 'hello', 'unknown top-level keys are ignored');
  t.equal(parseRequest(Buffer.from(' \n{"v":1,"id":2,"op":"list"}\n ')).op, 'list', 'whitespace around the JSON');
});

t.test('parseRequest refuses', async (t) => {
  // Not JSON: the value is the text, cut at 64 bytes.
  refused(t, () => parseRequest(Buffer.from('nope')), { code: 'BAD_REQUEST', field: 'request', value: 'nope' }, /not JSON/);
  refused(t, () => parseRequest(Buffer.alloc(0)), { code: 'BAD_REQUEST', field: 'request', value: '' }, /not JSON/);
  refused(t, () => parseRequest(Buffer.from('x'.repeat(100))), { code: 'BAD_REQUEST', field: 'request', value: `${'x'.repeat(64)}…` });
  refused(t, () => parseRequest(Buffer.from('{"v":1,"id":1,"op":"hello"')), { code: 'BAD_REQUEST', field: 'request', value: '{"v":1,"id":1,"op":"hello"' });
  // JSON, not an object.
  for (const [text, name] of [
    ['[]', 'array'],
    ['[{"v":1}]', 'array'],
    ['5', 'number'],
    ['null', 'null'],
    ['"str"', 'string'],
    ['true', 'boolean'],
  ])
    refused(t, () => parseRequest(Buffer.from(text)), { code: 'BAD_REQUEST', field: 'request', value: name }, /a request is a JSON object/);

  // The version.
  for (const v of [2, 0, '1', null, 1.5, [1]]) refused(t, () => parseRequest(req({ v })), { code: 'UNSUPPORTED_VERSION', field: 'v', value: v }, /version .* not supported/);
  refused(t, () => parseRequest(req({ v: undefined })), { code: 'UNSUPPORTED_VERSION', field: 'v', value: undefined }, /version undefined/);

  // The id.
  for (const id of [-1, 1.5, '1', null, true, {}, Number.MAX_SAFE_INTEGER + 1, 1e300])
    refused(t, () => parseRequest(req({ id })), { code: 'BAD_REQUEST', field: 'id', value: id }, /id must be a non-negative integer/);
  refused(t, () => parseRequest(req({ id: undefined })), { code: 'BAD_REQUEST', field: 'id', value: undefined }, /id must be/);

  // The op.
  for (const op of ['nope', '', 'HELLO', 'net_list', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 5, null, ['hello'], { hello: 1 }])
    refused(t, () => parseRequest(req({ op })), { code: 'UNKNOWN_OP', field: 'op', value: op }, /unknown operation .*; known: hello, prepare/);
  refused(t, () => parseRequest(req({ op: undefined })), { code: 'UNKNOWN_OP', field: 'op', value: undefined });

  // The args object.
  for (const [args, name] of [
    [[], 'array'],
    [['x'], 'array'],
    ['x', 'string'],
    [5, 'number'],
    [true, 'boolean'],
  ] as const)
    refused(t, () => parseRequest(req({ args })), { code: 'BAD_REQUEST', field: 'args', value: args }, new RegExp(`args must be an object, not ${name}`));
  refused(t, () => parseRequest(req({ args: { x: 1 } })), { code: 'BAD_REQUEST', field: 'args.x', value: 1 }, /hello takes no argument "x"$/);
  refused(
    t,
    () => parseRequest(req({ op: 'prepare', args: { xml: 'x', qpm: 'typo' } })),
    { code: 'BAD_REQUEST', field: 'args.qpm', value: 'typo' },
    /prepare takes no argument "qpm" \(it takes xml, qmp, accel, running\)/,
  );
  refused(t, () => parseRequest(buf('{"v":1,"id":1,"op":"hello","args":{"__proto__":{"x":1}}}')), { code: 'BAD_REQUEST', field: 'args.__proto__', value: { x: 1 } }, /no argument "__proto__"/);
  refused(t, () => parseRequest(req({ op: 'release', args: { constructor: 'x', name: 'a' } })), { code: 'BAD_REQUEST', field: 'args.constructor', value: 'x' });

  // Missing required args, for every op that has one.
  for (const op of ops) {
    const spec = specOf(op);
    for (const [k, [type, required]] of Object.entries(spec)) {
      if (!required) continue;
      const args = Object.fromEntries(
        Object.entries(spec)
          .filter(([j, [, r]]) => r && j !== k)
          .map(([j, [ty]]) => [j, sample[ty]]),
      );
      refused(t, () => parseRequest(req({ op, args })), { code: 'BAD_REQUEST', field: `args.${k}`, value: undefined }, new RegExp(`${op} needs args\\.${k} \\(${type.replace('[]', '\\[\\]')}\\)`));
    }
  }

  // Every argument with each wrong type.
  const wrong: Record<ArgType, [unknown, string][]> = {
    string: [
      [true, 'boolean'],
      [5, 'number'],
      [['x'], 'array'],
      [null, 'null'],
      [{}, 'object'],
    ],
    boolean: [
      ['true', 'string'],
      [1, 'number'],
      [null, 'null'],
      [[true], 'array'],
    ],
    'string[]': [
      ['a', 'string'],
      [['a', 1], 'array'],
      [['a', null], 'array'],
      [[['a']], 'array'],
      [{ 0: 'a' }, 'object'],
      [true, 'boolean'],
    ],
  };
  for (const op of ops) {
    const spec = specOf(op);
    const valid = Object.fromEntries(Object.entries(spec).map(([k, [type]]) => [k, sample[type]]));
    for (const [k, [type]] of Object.entries(spec)) {
      const expect = type === 'string[]' ? 'an array of strings' : `a ${type}`;
      for (const [x, name] of wrong[type])
        refused(
          t,
          () => parseRequest(req({ op, args: { ...valid, [k]: x } })),
          { code: 'BAD_REQUEST', field: `args.${k}`, value: x },
          new RegExp(`args\\.${k} must be ${expect.replace('[]', '\\[\\]')}, not ${name}`),
        );
    }
  }
});

t.test('idOf recovers a usable id only', async (t) => {
  t.equal(idOf(buf({ v: 9, id: 12, op: 'nope' })), 12, 'from a request parseRequest refuses');
  t.equal(idOf(buf({ id: 0 })), 0, 'zero');
  t.equal(idOf(buf({ id: Number.MAX_SAFE_INTEGER })), Number.MAX_SAFE_INTEGER);
  for (const text of ['{"id":-1}', '{"id":1.5}', '{"id":"3"}', '{"id":null}', '{}', '{"id":9007199254740992}', '[3]', '3', 'null', '"x"', 'not json', '{"id":3', ''])
    t.equal(idOf(Buffer.from(text)), null, text);
});

t.test('parseReply and replyError', async (t) => {
  t.strictSame(parseReply(okReply(3, { a: 1 }, 2)), { v: 1, id: 3, ok: true, result: { a: 1 }, fds: 2 });
  t.strictSame(parseReply(errorReply(null, new NetfdError('no', { code: 'EAGAIN' }))), { v: 1, id: null, ok: false, error: { code: 'EAGAIN', message: 'no' } });
  for (const text of ['nope', '', '{"v":1,']) t.throws(() => parseReply(Buffer.from(text)), { name: 'NetfdError', code: 'PROTOCOL_ERROR', message: /not JSON/ }, `not JSON: ${JSON.stringify(text)}`);
  for (const text of ['{"v":2,"id":1,"ok":true,"result":1}', '{"id":1,"ok":true}', '{"v":"1","id":1,"ok":true}', 'null', '5', '[]', '"x"'])
    t.throws(() => parseReply(Buffer.from(text)), { name: 'NetfdError', code: 'PROTOCOL_ERROR', message: /cannot read/ }, `wrong version: ${text}`);
  t.throws(() => parseReply(Buffer.from('{"v":1,"id":1,"ok":"yes"}')), { code: 'PROTOCOL_ERROR' }, 'ok must be a boolean');

  const e = replyError({ code: 'ACCESS_DENIED', message: 'no bridge for you', field: 'bridge', value: 'br0', rule: 'acl:3 deny user bob bridge br0' });
  t.type(e, NetfdError);
  t.strictSame(
    { code: e.code, message: e.message, field: e.field, value: e.value, rule: e.rule },
    { code: 'ACCESS_DENIED', message: 'no bridge for you', field: 'bridge', value: 'br0', rule: 'acl:3 deny user bob bridge br0' },
  );
  const plain = replyError({ code: 'EBUSY', message: 'busy' });
  t.strictSame({ code: plain.code, message: plain.message, field: plain.field, value: plain.value }, { code: 'EBUSY', message: 'busy', field: undefined, value: undefined });
  t.notOk('rule' in plain, 'no rule property when the reply had none');
  const nullValue = replyError({ code: 'BAD_REQUEST', message: 'x', field: 'args.name', value: null });
  t.strictSame({ field: nullValue.field, value: nullValue.value }, { field: 'args.name', value: null });
  // Round trip: error → reply → client error.
  const back = replyError(
    (parseReply(errorReply(1, Object.assign(new NetfdError('m', { code: 'NO_DEVICE', field: 'f', value: [1] }), { rule: 'r' }))) as { error: Parameters<typeof replyError>[0] }).error,
  );
  t.strictSame({ code: back.code, message: back.message, field: back.field, value: back.value, rule: back.rule }, { code: 'NO_DEVICE', message: 'm', field: 'f', value: [1], rule: 'r' }, 'round trip');
});

t.test('parseReply refuses replies the client cannot use', async (t) => {
  // parseReply checks only v and ok: {"ok":false} without an error object
  // passes, and AgentClient then throws a TypeError inside the poller
  // callback, after it cleared the request's timer (the request never settles).
  for (const text of [
    '{"v":1,"id":1,"ok":false}',
    '{"v":1,"id":1,"ok":false,"error":"denied"}',
    '{"v":1,"id":1,"ok":false,"error":null}',
    '{"v":1,"id":1,"ok":false,"error":{"code":5}}',
    '{"v":1,"id":"1","ok":true,"result":1}',
    '{"v":1,"id":1,"ok":true,"result":1,"fds":"2"}',
  ])
    t.throws(() => parseReply(Buffer.from(text)), { code: 'PROTOCOL_ERROR' }, text);
});

// A tiny xorshift32, so every run sees the same inputs.
function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

const requestCodes = new Set(['BAD_REQUEST', 'UNSUPPORTED_VERSION', 'UNKNOWN_OP']);

/** The outcome of one input: null when it is one of the allowed ones, else what went wrong. */
function judge(data: Buffer): string | null {
  let r: Request;
  try {
    r = parseRequest(data);
  } catch (e) {
    if (!(e instanceof NetfdError)) return `threw ${String(e)}`;
    if (!requestCodes.has(e.code)) return `threw ${e.code}`;
    if (typeof e.field !== 'string' || !e.message) return `threw ${e.code} without a field or message`;
    return null;
  }
  if (r.v !== 1 || !Number.isSafeInteger(r.id) || r.id < 0 || !Object.hasOwn(OPS, r.op) || typeof r.args !== 'object' || r.args === null || Array.isArray(r.args))
    return `returned ${JSON.stringify(r)}`;
  // A request that was accepted survives being encoded again.
  const again = parseRequest(encodeRequest(r.id, r.op, r.args));
  return JSON.stringify(again) === JSON.stringify(r) ? null : `did not round-trip: ${JSON.stringify(r)}`;
}

function validRequest(rand: () => number): Buffer {
  const op = ops[rand() % ops.length];
  const args: Record<string, unknown> = {};
  for (const [k, [type, required]] of Object.entries(specOf(op))) {
    if (!required && rand() % 2) continue;
    args[k] = type === 'boolean' ? rand() % 2 === 0 : type === 'string[]' ? ['a', `é${rand() % 100}`] : `v\u00e9\u{1f600}"${rand() % 1000}`;
  }
  return encodeRequest(rand() % 1000, op, args);
}

t.test('fuzz: parseRequest returns a Request or throws a request error', async (t) => {
  const rand = xorshift(0x5eed1234);
  const bad: string[] = [];
  let accepted = 0;
  const note = (what: string, data: Buffer) => {
    const why = judge(data);
    if (why === null) return;
    if (bad.length < 5) bad.push(`${what} ${JSON.stringify(data.toString('latin1'))}: ${why}`);
  };
  const count = (data: Buffer) => {
    try {
      parseRequest(data);
      accepted++;
    } catch {
      // counted by judge
    }
  };
  for (let i = 0; i < 2000; i++) {
    const data = Buffer.alloc(rand() % 96);
    for (let j = 0; j < data.length; j++) data[j] = rand() & 0xff;
    note('random bytes', data);
  }
  for (let i = 0; i < 2000; i++) {
    const full = validRequest(rand);
    const data = full.subarray(0, rand() % (full.length + 1));
    note('truncated', data);
    count(data);
  }
  // One byte changed, dropped or duplicated in a valid request.
  for (let i = 0; i < 2000; i++) {
    const full = Buffer.from(validRequest(rand));
    const at = rand() % full.length;
    const how = rand() % 3;
    const data =
      how === 0
        ? (full.fill(rand() & 0xff, at, at + 1), full)
        : how === 1
          ? Buffer.concat([full.subarray(0, at), full.subarray(at + 1)])
          : Buffer.concat([full.subarray(0, at + 1), full.subarray(at)]);
    note('mutated', data);
  }
  // Valid requests with one top-level value replaced by a random JSON value.
  const values = [null, true, false, 0, -1, 1.5, Infinity, '', 'x', '__proto__', [], ['x', 1], {}, { a: 1 }, Number.MAX_SAFE_INTEGER + 2];
  for (let i = 0; i < 2000; i++) {
    const m = JSON.parse(validRequest(rand).toString()) as Record<string, unknown>;
    const key = ['v', 'id', 'op', 'args'][rand() % 4];
    m[key] = values[rand() % values.length];
    if (key === 'args' && rand() % 2) m.args = { [['xml', 'name', 'only', 'all', 'enable', 'zzz'][rand() % 6]]: values[rand() % values.length] };
    note('replaced', buf(m));
  }
  t.strictSame(bad, [], 'every input is accepted or refused with BAD_REQUEST, UNSUPPORTED_VERSION or UNKNOWN_OP');
  t.ok(accepted > 0, `some truncations are whole requests (${accepted} of 2000)`);
});

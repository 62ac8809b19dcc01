// The CLI's agent options and --connect (lib/cli/verbs/agent.ts), without an agent.
import t from 'tap';
import { main } from '../../../../lib/cli/main';

function run(args: string[]): Promise<{ status: number; out: string; err: string }> {
  let out = '';
  let err = '';
  return main(args, { out: (s) => (out += s), err: (s) => (err += s) }).then((status) => ({ status, out, err }));
}

t.test('CLI: agent options and --connect', async (t) => {
  const rows: [string[], number, RegExp][] = [
    [['agent', '--grace', 'soon'], 1, /INVALID_ARGUMENT: invalid grace "soon"/],
    [['agent', '--stop-timeout', '1e3'], 1, /INVALID_ARGUMENT: invalid stop-timeout "1e3": seconds, from 0 to 3600/],
    [['agent', '--stop-timeout', '3601'], 1, /INVALID_ARGUMENT: invalid stop-timeout "3601"/],
    [['agent', '--max-clients', '0'], 1, /INVALID_ARGUMENT: invalid max-clients "0": a number of connections, from 1 to 65536/],
    [['agent', '--max-clients', 'many'], 1, /INVALID_ARGUMENT: invalid max-clients "many"/],
    [['agent', '--socket', 'rel.sock'], 1, /invalid socket "rel.sock": an absolute path/],
    [['agent', '--log-level', 'loud'], 1, /invalid log-level "loud"/],
    [['agent', '--socket-mode', '999', '--socket', '/tmp/x.sock'], 1, /invalid socket-mode "999"/],
    [['agent', 'extra'], 2, /unexpected argument extra/],
    [['--connect', '/nonexistent/agent.sock', 'list'], 1, /cannot connect to the netfd agent at \/nonexistent\/agent.sock: .*is `netfd agent` running\?/],
    [['--connect', '/x.sock', 'tap', 'create'], 2, /tap create is not done through the agent/],
    [['--connect', '/x.sock', 'launch', 'vm.xml', '--detach'], 2, /launch --detach is not available with --connect/],
    [['--connect=/x.sock', 'link', 'show'], 2, /link show is not done through the agent/],
  ];
  for (const [args, status, re] of rows) {
    const r = await run(args);
    t.equal(r.status, status, args.join(' '));
    t.match(r.err, re, args.join(' '));
  }
});

// The fairness suite's flooding client, run as another uid: `node flood.js
// SOCKET`. Three connections to the agent, each sending large prepare
// requests (120 KiB of XML for bridge br9, which the ACL refuses after
// parsing) as fast as the agent takes them, replies read and dropped.
// Prints FLOODING once the first three are sent; runs until killed.
import { agentProtocol, nativeBinding } from './netfd';

async function flood(socket: string): Promise<void> {
  const native = nativeBinding();
  const { encodeRequest } = agentProtocol();
  const xml =
    "<domain type='qemu'><name>flood</name><memory unit='MiB'>64</memory><devices><interface type='bridge'><source bridge='br9'/></interface></devices><description>" +
    'y'.repeat(120000) +
    '</description></domain>';
  const frame = encodeRequest(1, 'prepare', { xml });
  const fds: number[] = [];
  for (let c = 0; c < 3; c++) fds.push(await native.unixConnect(socket));
  let sent = 0;
  for (;;) {
    for (const fd of fds) {
      try {
        native.sendNow(fd, frame);
        sent++;
      } catch {
        // the agent's queue is full: next round
      }
      try {
        while (native.recvNow(fd, 65536, 0));
      } catch {
        // nothing to read
      }
    }
    if (sent === 3) process.stdout.write('FLOODING\n');
    await new Promise((r) => setTimeout(r, 2));
  }
}

flood(process.argv[2]).catch((err: Error) => {
  console.error(`[bench] flood: ${err.message}`);
  process.exit(1);
});

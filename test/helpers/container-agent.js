// The agent in a privileged-CI-container-like mount namespace (see
// container.sh): default socket and state under a fresh /run, a namespace
// given by path, no /dev/tapN nodes. Prints what it saw as JSON.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const pino = require('pino');
const { Agent } = require('../../dist/agent/server');
const { AgentClient } = require('../../dist/agent/client');

(async () => {
  const netns = process.argv[2];
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-container-agent-'));
  const acl = path.join(tmp, 'acl.conf');
  fs.writeFileSync(acl, 'allow user root all\n');
  const agent = new Agent({ acl, netns, configDir: path.join(tmp, 'networks'), logger: pino({ level: 'silent' }) });
  const out = {};
  try {
    await agent.start();
    out.socket = agent.socketPath;
    const c = await AgentClient.connect(agent.socketPath);
    const xml =
      "<domain type='qemu'><name>ci</name><memory unit='MiB'>64</memory><devices><interface type='direct'><source dev='v0' mode='bridge'/><model type='virtio'/><driver queues='2'/></interface><interface type='ethernet'><model type='virtio'/></interface></devices></domain>";
    const r = await c.request('prepare', { xml });
    out.devs = r.result.interfaces.map((i) => i.dev);
    out.fds = r.fds.length;
    out.charDevs = r.fds.filter((fd) => fs.fstatSync(fd).isCharacterDevice()).length;
    out.live = fs.existsSync('/run/netfd/qemu/agent/0/ci.xml');
    for (const fd of r.fds) fs.closeSync(fd);
    await c.request('release', { name: 'ci' });
    out.list = (await c.request('list')).result;
    c.close();
  } finally {
    await agent.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  console.log(JSON.stringify(out));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});

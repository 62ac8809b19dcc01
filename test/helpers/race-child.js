// One of two processes racing for vnet%d / macvtap%d names in one namespace:
// prepares 10 domains (a tap on br0 and a macvtap on v0 each) as fast as it
// can, prints the device names as JSON on one line, then waits for stdin to
// close before it tears them all down (so all names are alive at once).
// usage: race-child.js NETNS STATE_DIR ID
const { prepareDomain } = require('../../dist/qemu/domain');

async function main() {
  const [ns, stateDir, id] = process.argv.slice(2);
  const prepared = [];
  try {
    for (let n = 0; n < 10; n++) {
      const xml = `<domain type='qemu'><name>race-${id}-${n}</name><memory unit='MiB'>64</memory><devices>
        <interface type='bridge'><source bridge='br0'/><model type='virtio'/></interface>
        <interface type='direct'><source dev='v0' mode='bridge'/><model type='virtio'/></interface>
      </devices></domain>`;
      prepared.push(await prepareDomain(xml, { netns: ns, stateDir }));
    }
    process.stdout.write(`${JSON.stringify(prepared.flatMap((p) => p.interfaces.map((i) => i.name)))}\n`);
    process.stdin.resume();
    await new Promise((resolve) => process.stdin.on('end', resolve));
  } finally {
    for (const p of prepared) await p.teardown();
  }
}

main().catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});

// A netfd process that allocates from a network and then dies or waits, to
// stand for a launch killed between the allocation and its domain's live XML.
// usage: net-child.js STATE_DIR SYSFS_ROOT NETWORK DOMAIN MAC [NETNS] [--wait]
// Prints the allocation as JSON on one line; with --wait it then waits for
// stdin to close (a live process still setting up), else it exits at once.
const { Networks } = require('../../dist/netdev/networks');

async function main() {
  const args = process.argv.slice(2);
  const wait = args.includes('--wait');
  const [stateDir, sysfsRoot, network, domain, mac, netns] = args.filter((a) => a !== '--wait');
  const n = new Networks({ stateDir, sysfsRoot, configDir: '/nonexistent' });
  const a = await n.allocate(network, { domain, mac, netns: netns || undefined });
  process.stdout.write(`${JSON.stringify(a)}\n`);
  if (wait) process.stdin.resume();
}

main().catch((e) => {
  process.stderr.write(`${e.code}: ${e.message}\n`);
  process.exit(1);
});

// A launch that is killed half way: prepares a domain whose interfaces come
// from networks and stops after the devices are open, before the domain's
// live XML is written (it prints "held" and waits to be SIGKILLed).
// usage: net-crash-child.js NETNS STATE_DIR CONFIG_DIR SYSFS_ROOT DOMAIN_XML
const { prepareDomain } = require('../../dist/qemu/domain');

const [netns, stateDir, configDir, sysfsRoot, xml] = process.argv.slice(2);
prepareDomain(xml, {
  netns,
  stateDir,
  configDir,
  sysfsRoot,
  afterStep: async (step) => {
    if (step !== 'open') return;
    process.stdout.write('held\n');
    await new Promise(() => undefined);
  },
}).catch((e) => {
  process.stderr.write(`${e.code}: ${e.message}\n`);
  process.exit(1);
});

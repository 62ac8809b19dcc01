// Golden JSON of the CNI layer's tests: test/fixtures/cni/NAME.json. To
// rewrite them after an intended change:
//   NETFD_UPDATE_GOLDEN=1 npx tap test/unit/cni/
// then read the diff by eye before committing.
import fs from 'node:fs';
import path from 'node:path';
import type { Asserts } from './refused';

const dir = path.join(__dirname, '..', 'fixtures', 'cni');

/** Compares `actual` with the golden NAME.json (writes it under NETFD_UPDATE_GOLDEN=1). */
export function golden(t: Asserts, name: string, actual: unknown): void {
  const file = path.join(dir, `${name}.json`);
  const text = `${JSON.stringify(actual, null, 2)}\n`;
  if (process.env.NETFD_UPDATE_GOLDEN === '1') fs.writeFileSync(file, text);
  t.same(actual, JSON.parse(fs.readFileSync(file, 'utf8')), `golden ${name}.json`);
}

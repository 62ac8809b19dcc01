// The ACL tests' fixtures: test/fixtures/acl/ (fake passwd and group files,
// ACL files) and temporary directories removed when a test ends.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileAccounts } from '../../lib/agent/acl/accounts';
import type { Asserts } from './refused';

export const fixtures = path.join(__dirname, '..', 'fixtures', 'acl');
export const fx = (...p: string[]) => path.join(fixtures, ...p);
/** alice 1001 in vmops, bob 1002 in guests, carol 1003 in both, dave 1004 with vmops as his passwd primary group, root 0. */
export const accounts = fileAccounts({ passwd: fx('passwd'), group: fx('group') });

/** A fresh temp directory holding `files` (name → text), removed when the test ends. */
export function tmpDir(t: Asserts, files: Record<string, string> = {}): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netfd-acl-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

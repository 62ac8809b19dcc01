// The package's public surface, read with the TypeScript compiler from the
// two entry points (lib/index.ts = 'netfd', lib/agent/index.ts =
// 'netfd/agent'):
// - every optional property of a public option type is `?: T | undefined`,
//   so `{ stateDir: process.env.X }` compiles under exactOptionalPropertyTypes;
// - the raw binding and internals are not exported; the main entry does not
//   load the agent (nor pino);
// - every error code in lib/ is in NETFD_CODES, and the README's table of
//   error codes is NETFD_CODES.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import ts from 'typescript';
import { NETFD_CODES } from '../../lib/errors';

const root = path.join(__dirname, '..', '..');
const lib = path.join(root, 'lib');
const entries = [path.join(lib, 'index.ts'), path.join(lib, 'agent', 'index.ts')];

function program(): ts.Program {
  const cfg = ts.readConfigFile(path.join(root, 'tsconfig.json'), ts.sys.readFile);
  const parsed = ts.parseJsonConfigFileContent(cfg.config, ts.sys, root);
  return ts.createProgram(entries, { ...parsed.options, noEmit: true });
}

const inLib = (d: ts.Node) => d.getSourceFile().fileName.startsWith(lib + path.sep);
const where = (n: ts.Node) => {
  const sf = n.getSourceFile();
  return `${path.relative(root, sf.fileName)}:${sf.getLineAndCharacterOfPosition(n.getStart()).line + 1}`;
};

/** Option types: named `…Options` / `…Changes`, or a base they extend. */
const OPTION_NAME = /(Options|Changes)$/;

/** Optional properties of option types (reached from public parameters) whose type leaves out `undefined`. */
function inexactOptions(p: ts.Program): string[] {
  const checker = p.getTypeChecker();
  const bad: string[] = [];
  const seen = new Set<ts.Node>();

  const resolve = (s: ts.Symbol): ts.Symbol => (s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s);
  const admitsUndefined = (n: ts.TypeNode | undefined): boolean =>
    !n ||
    n.kind === ts.SyntaxKind.UndefinedKeyword ||
    n.kind === ts.SyntaxKind.UnknownKeyword ||
    n.kind === ts.SyntaxKind.AnyKeyword ||
    (ts.isUnionTypeNode(n) && n.types.some(admitsUndefined)) ||
    (ts.isParenthesizedTypeNode(n) && admitsUndefined(n.type));

  function members(ms: ts.NodeArray<ts.TypeElement>, owner: string) {
    for (const m of ms) {
      if (!ts.isPropertySignature(m)) continue;
      if (m.questionToken && !admitsUndefined(m.type)) bad.push(`${owner}.${m.name.getText()} (${where(m)})`);
      if (m.type) type(m.type, false);
    }
  }

  function declaration(d: ts.Declaration, viaHeritage: boolean) {
    if (seen.has(d) || !inLib(d)) return;
    if (ts.isInterfaceDeclaration(d)) {
      if (!viaHeritage && !OPTION_NAME.test(d.name.text)) return;
      seen.add(d);
      for (const h of d.heritageClauses ?? []) for (const e of h.types) reference(e.expression, true, e.typeArguments);
      members(d.members, d.name.text);
    } else if (ts.isTypeAliasDeclaration(d)) {
      if (!viaHeritage && !OPTION_NAME.test(d.name.text)) return;
      seen.add(d);
      type(d.type, true);
    }
  }

  function reference(name: ts.Node, viaHeritage: boolean, args?: ts.NodeArray<ts.TypeNode>) {
    const s = checker.getSymbolAtLocation(name);
    if (s) for (const d of resolve(s).declarations ?? []) declaration(d, viaHeritage);
    for (const a of args ?? []) type(a, false);
  }

  // `viaHeritage`: the type is part of an option type (an intersection member, a base).
  function type(n: ts.TypeNode, viaHeritage: boolean): void {
    if (ts.isTypeReferenceNode(n)) reference(n.typeName, viaHeritage, n.typeArguments);
    else if (ts.isTypeLiteralNode(n)) members(n.members, '{…}');
    else if (ts.isUnionTypeNode(n)) n.types.forEach((x) => type(x, viaHeritage));
    else if (ts.isIntersectionTypeNode(n)) n.types.forEach((x) => type(x, true));
    else if (ts.isArrayTypeNode(n)) type(n.elementType, false);
    else if (ts.isParenthesizedTypeNode(n) || ts.isTypeOperatorNode(n)) type(n.type, viaHeritage);
    // Function types are callbacks: their parameters are netfd's output.
  }

  function parameters(ps: ts.NodeArray<ts.ParameterDeclaration>) {
    for (const prm of ps) if (prm.type) type(prm.type, false);
  }

  function exported(s: ts.Symbol) {
    const r = resolve(s);
    for (const d of r.declarations ?? []) {
      if (!inLib(d)) continue;
      if (ts.isSourceFile(d)) {
        // export * as policy from './policy'
        for (const x of checker.getExportsOfModule(r)) exported(x);
      } else if (ts.isFunctionDeclaration(d)) parameters(d.parameters);
      else if (ts.isVariableDeclaration(d) && d.initializer && (ts.isArrowFunction(d.initializer) || ts.isFunctionExpression(d.initializer))) parameters(d.initializer.parameters);
      else if (ts.isClassDeclaration(d)) {
        for (const m of d.members) {
          const mods = ts.getCombinedModifierFlags(m as ts.Declaration);
          if (mods & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected) || (m.name && ts.isPrivateIdentifier(m.name))) continue;
          if (ts.isMethodDeclaration(m) || ts.isConstructorDeclaration(m)) parameters(m.parameters);
        }
      } else if (ts.isInterfaceDeclaration(d) || ts.isTypeAliasDeclaration(d)) declaration(d, false);
    }
  }

  for (const e of entries) {
    const sf = p.getSourceFile(e);
    const mod = sf && checker.getSymbolAtLocation(sf);
    if (!mod) throw new Error(`no module symbol for ${e}`);
    for (const s of checker.getExportsOfModule(mod)) exported(s);
  }
  return [...new Set(bad)].sort();
}

function exportNames(p: ts.Program, entry: string): string[] {
  const checker = p.getTypeChecker();
  const mod = checker.getSymbolAtLocation(p.getSourceFile(entry)!)!;
  return checker.getExportsOfModule(mod).map((s) => s.name);
}

const prog = program();

t.test('optional properties of public option types admit undefined (exactOptionalPropertyTypes)', async (t) => {
  t.strictSame(inexactOptions(prog), [], 'write them `?: T | undefined`');
});

t.test('the entry points export the API, not the binding or internals', async (t) => {
  const main = exportNames(prog, entries[0]);
  const agent = exportNames(prog, entries[1]);
  for (const name of ['native', 'hostAttach', 'hostDetach', 'startQemu', 'toLinkInfo', 'Agent', 'AgentClient']) t.notOk(main.includes(name), `'netfd' does not export ${name}`);
  for (const name of [
    'NetfdError',
    'NETFD_CODES',
    'NetfdCode',
    'probeHost',
    'ProbeOptions',
    'prepareDomain',
    'PreparedDomain',
    'launchDomain',
    'Exit',
    'QmpEvent',
    'DriverDef',
    'Tap',
    'Macvtap',
    'VhostFds',
  ])
    t.ok(main.includes(name), `'netfd' exports ${name}`);
  for (const name of ['Agent', 'AgentClient', 'launchViaAgent', 'PROTOCOL_VERSION', 'acl', 'qmpAttach', 'qmpDetach']) t.ok(agent.includes(name), `'netfd/agent' exports ${name}`);
  t.notOk(agent.includes('native'), "'netfd/agent' does not export the binding");
  // No type in either entry's surface needs pino's typings.
  const dts = ts.createProgram(entries, {
    declaration: true,
    emitDeclarationOnly: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.CommonJS,
    esModuleInterop: true,
    skipLibCheck: true,
    types: ['node'],
  });
  let text = '';
  dts.emit(undefined, (_file, data) => (text += data));
  t.notMatch(text, /from ["']pino["']/, 'no declaration imports pino');
});

t.test('the main entry does not load the agent or pino', async (t) => {
  const probe = `require(${JSON.stringify(path.join(lib, 'index.ts'))}); console.log(JSON.stringify(Object.keys(require.cache).filter((k) => /[\\\\/](pino|agent)[\\\\/]/.test(k))))`;
  const r = spawnSync(process.execPath, [...process.execArgv, '-e', probe], { encoding: 'utf8', cwd: root });
  t.equal(r.status, 0, r.stderr);
  t.strictSame(JSON.parse(r.stdout.trim().split('\n').pop() ?? 'null'), [], 'nothing from pino or lib/agent in the module cache');
});

t.test('every error code in lib/ is in NETFD_CODES or an errno name, and the README lists NETFD_CODES', async (t) => {
  const known = new Set(Object.keys(NETFD_CODES));
  const found = new Set<string>();
  const walk = (dir: string): string[] =>
    fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));
  for (const f of walk(lib)) for (const m of fs.readFileSync(f, 'utf8').matchAll(/\bcode: '([A-Z][A-Z0-9_]+)'/g)) found.add(m[1]);
  const unknown = [...found].filter((c) => !known.has(c) && !c.startsWith('E'));
  t.strictSame(unknown, [], 'codes given in lib/ are all in NETFD_CODES');
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  const section = /\n## Error codes\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? '';
  const rows = [...section.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
  t.strictSame(rows, Object.keys(NETFD_CODES), 'the README table (## Error codes) lists NETFD_CODES, in order');
});

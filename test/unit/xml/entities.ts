// xmldom's entities module stands in the require cache with XML's five
// entities (lib/xml/dom.ts lazyEntities): the same as the real module's, the
// HTML table still there when asked for, and XML with entities parses as ever.
import t from 'tap';
import { lazyEntities, parseXml, serializeXml } from '../../../lib/xml/dom';

t.test("XML's entities are the real module's; HTML's come from the real file on first use", async (t) => {
  const file = require.resolve('@xmldom/xmldom/lib/entities');
  lazyEntities();
  const stub = require.cache[file]!.exports as { XML_ENTITIES: Record<string, string>; HTML_ENTITIES: Record<string, string>; entityMap: Record<string, string> };
  t.same(Object.keys(stub.XML_ENTITIES).sort(), ['amp', 'apos', 'gt', 'lt', 'quot']);
  const doc = parseXml(`<domain a="&amp;&lt;&gt;&quot;&apos;&#x41;&#66;">x &amp; y</domain>`, 'test XML');
  t.equal(doc.documentElement!.getAttribute('a'), `&<>"'AB`, 'the five entities and character references parse');
  t.equal(doc.documentElement!.textContent, 'x & y');
  t.match(serializeXml(doc), /x &amp; y/);
  t.throws(() => parseXml('<domain>&nbsp;</domain>', 'test XML'), { code: 'INVALID_XML' }, "an HTML entity is refused in XML, as before (the parser uses XML's five only)");
  t.equal(require.cache[file]!.exports, stub, 'parsing XML never loaded the HTML table');
  const html = stub.HTML_ENTITIES;
  t.equal(html.nbsp, '\u00a0', 'asked for, the HTML table is the real one');
  t.ok(Object.keys(html).length > 2000);
  t.equal(stub.entityMap, html);
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the real module, loaded by the getter above
  const real = require(file) as { XML_ENTITIES: Record<string, string> };
  t.not(real, stub, 'the real module is in the cache now');
  t.strictSame({ ...stub.XML_ENTITIES }, { ...real.XML_ENTITIES }, "XML's five are exactly the real module's");
});

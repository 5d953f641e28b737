// A small element tree over fast-xml-parser's ordered output, and the escaping the request
// builders need. vim25 answers are deeply nested, repeat elements freely (one `returnval`
// or many) and type values with `xsi:type`; reading them through one uniform tree keeps the
// client's code about vim25, not about the parser's shapes.

import { XMLParser } from 'fast-xml-parser';

export class XmlElement {
  constructor(
    /** The element's local name (namespace prefix removed). */
    readonly name: string,
    /** Attributes by local name; `xsi:type` (whatever its prefix) is under `xsi:type`. */
    readonly attrs: Readonly<Record<string, string>>,
    readonly children: readonly XmlElement[],
    /** The element's own text, concatenated. */
    readonly text: string,
  ) {}

  /** The local name of the `xsi:type` attribute, e.g. `VirtualDisk`, `string` for `xsd:string`. */
  get xsiType(): string | undefined {
    const t = this.attrs['xsi:type'];
    return t === undefined ? undefined : localName(t);
  }

  /** The first child of that name. */
  child(name: string): XmlElement | undefined {
    for (const c of this.children) if (c.name === name) return c;
    return undefined;
  }

  /** Every child of that name, in order. */
  all(name: string): XmlElement[] {
    return this.children.filter((c) => c.name === name);
  }

  /** Follows a path of child names (`a.b.c`), first match at each step. */
  at(path: string): XmlElement | undefined {
    const parts = path.split('.');
    let node = this.child(parts[0] ?? '');
    for (let i = 1; i < parts.length && node !== undefined; i++) node = node.child(parts[i] ?? '');
    return node;
  }

  /** The text of the child at `path`, or undefined when it is absent. */
  textAt(path: string): string | undefined {
    return this.at(path)?.text;
  }
}

function localName(qname: string): string {
  const i = qname.indexOf(':');
  return i < 0 ? qname : qname.slice(i + 1);
}

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  removeNSPrefix: false,
  // Character references (`&#xA;` in a multi-line annotation) are decoded only with this
  // set; the HTML names it also knows never occur in well-formed vim25 answers.
  htmlEntities: true,
});

type Ordered = Record<string, unknown>;

function build(name: string, body: unknown, attrs: unknown): XmlElement {
  const a: Record<string, string> = {};
  if (attrs !== null && typeof attrs === 'object') {
    for (const [k, v] of Object.entries(attrs as Record<string, unknown>)) {
      if (k === 'xmlns' || k.startsWith('xmlns:')) continue;
      // Only the schema-instance namespace types values with a prefixed `type` in vim25.
      const key = k.includes(':') ? (localName(k) === 'type' ? 'xsi:type' : localName(k)) : k;
      a[key] = String(v);
    }
  }
  const children: XmlElement[] = [];
  let text = '';
  if (Array.isArray(body)) {
    for (const item of body as Ordered[]) {
      for (const key of Object.keys(item)) {
        if (key === ':@') continue;
        if (key === '#text') text += String(item[key]);
        else if (!key.startsWith('?')) children.push(build(localName(key), item[key], item[':@']));
      }
    }
  }
  return new XmlElement(name, a, children, text);
}

/** Parses a whole document into its root element. */
export function parseXml(xml: string): XmlElement {
  const doc = parser.parse(xml) as Ordered[];
  for (const item of doc) {
    for (const key of Object.keys(item)) {
      if (key !== ':@' && key !== '#text' && !key.startsWith('?')) return build(localName(key), item[key], item[':@']);
    }
  }
  throw new SyntaxError('no root element');
}

/** Escapes text for element content and attribute values. */
export function xmlEscape(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] ?? c);
}

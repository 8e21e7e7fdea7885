// A field's description, read from the comment above it in the schema files. zod never sees comments, and the schemas
// document their fields with JSDoc (`/** Default: now. Never moves the marker back. */ read_at: ...`), so the OpenAPI
// document takes each field's description from the source object literal that declares it.
import { readFileSync } from "node:fs";
import ts from "typescript";

interface Literal {
  keys: Set<string>;
  docs: Map<string, string>;
}

/**
 * A lookup over the object literals of `files`: the description of `key` in a generated object with `keys`. Of the
 * literals whose keys the object has all of (an object built by `.extend` has its base's and its own), the largest one
 * that declares `key` decides, so a shape that reuses a field name without a comment does not borrow another's.
 */
export function fieldDocs(files: string[]): (keys: string[], key: string) => string | undefined {
  const literals: Literal[] = [];
  for (const file of files) {
    const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node) => {
      if (ts.isObjectLiteralExpression(node)) literals.push(literal(node));
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return (keys, key) => {
    const present = new Set(keys);
    const declaring = literals
      .filter((literal) => literal.keys.has(key) && [...literal.keys].every((name) => present.has(name)))
      .sort((a, b) => b.keys.size - a.keys.size);
    return declaring[0]?.docs.get(key);
  };
}

function literal(node: ts.ObjectLiteralExpression): Literal {
  const keys = new Set<string>(), docs = new Map<string, string>();
  for (const property of node.properties) {
    if (!ts.isPropertyAssignment(property) && !ts.isShorthandPropertyAssignment(property)) continue;
    const name = property.name;
    if (!ts.isIdentifier(name) && !ts.isStringLiteral(name)) continue;
    keys.add(name.text);
    const doc = ts.getJSDocCommentsAndTags(property).filter(ts.isJSDoc).at(-1);
    const text = doc && ts.getTextOfJSDocComment(doc.comment);
    if (text) docs.set(name.text, text.replace(/\s+/g, " ").trim());
  }
  return { keys, docs };
}

// Validates the Shopify Admin GraphQL documents Alatar sends against the Admin
// API introspection schema shipped in @shopify/dev-mcp (see package.json).
//
// Input: a JSON array of { name, query, variables?, bulk? } read from the file
// given as the first non-flag argument, or from stdin.
//
//   npm ci && node validate.mjs documents.json
//   node validate.mjs --schema 2026-07 < documents.json
//
// Flags:
//   --schema <version|path>  Admin API version (admin_<version>.json.gz in
//                            @shopify/dev-mcp/dist/data) or a path to an
//                            introspection JSON (.json or .json.gz). Default 2026-10.
//   --max-cost <n>           also report a problem when a non-bulk document's
//                            estimated requested cost exceeds n (Shopify's limit
//                            for a single query is 1000).
//   --report                 add "documents": per document, the estimated
//                            requested cost and the access scopes the schema
//                            lists for the types and fields it touches.
//
// Checks, per document:
//   * parse, then graphql-js `validate` with all standard rules;
//   * every use of a deprecated field, argument, input object field or enum
//     value, in the document and in `variables`;
//   * `variables` coerced against the operation's variable definitions
//     (unknown input fields, missing required fields, wrong scalar types);
//     variables the operation does not declare are reported too;
//   * `"bulk": true`: the document is a bulkOperationRunQuery inner query: a
//     single query operation with no variables, not rooted at node/nodes, with
//     1 to 5 connections nested at most 2 deep.
//
// Output on stdout: { ok, schema, problems: [{ name, message }] } (plus
// "documents" with --report). Exit status 1 if any problem, 2 on bad usage.

import { readFileSync, existsSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  buildClientSchema,
  parse,
  validate,
  TypeInfo,
  visit,
  visitWithTypeInfo,
  getNamedType,
  getNullableType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isEnumType,
  isLeafType,
  isObjectType,
  isAbstractType,
  typeFromAST,
  getVariableValues,
  Kind,
  valueFromAST,
} from 'graphql';

const here = dirname(fileURLToPath(import.meta.url));

function usage(message) {
  process.stderr.write(`${message}\nusage: node validate.mjs [--schema <version|path>] [--max-cost <n>] [--report] [documents.json]\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { schema: '2026-10', maxCost: null, report: false, file: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--schema') opts.schema = argv[++i] ?? usage('--schema needs a value');
    else if (a === '--max-cost') {
      opts.maxCost = Number(argv[++i]);
      if (!Number.isFinite(opts.maxCost)) usage('--max-cost needs a number');
    } else if (a === '--report') opts.report = true;
    else if (a.startsWith('--')) usage(`unknown flag ${a}`);
    else if (opts.file === null) opts.file = a;
    else usage(`unexpected argument ${a}`);
  }
  return opts;
}

function findSchemaFile(spec) {
  if (spec.includes('/') || spec.endsWith('.json') || spec.endsWith('.gz')) return resolve(spec);
  const rel = join('@shopify', 'dev-mcp', 'dist', 'data', `admin_${spec}.json.gz`);
  for (let dir = here; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', rel);
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) break;
  }
  throw new Error(`admin_${spec}.json.gz not found under node_modules/@shopify/dev-mcp/dist/data (run npm ci in ${here})`);
}

function loadSchema(spec) {
  const file = findSchemaFile(spec);
  const raw = readFileSync(file);
  const text = file.endsWith('.gz') ? gunzipSync(raw).toString('utf8') : raw.toString('utf8');
  const json = JSON.parse(text);
  const introspection = json.data ?? json;
  const schema = buildClientSchema(introspection);
  // The dev-mcp files also carry the access scopes per type and field.
  const scopes = new Map();
  for (const item of json.offline_scopes?.items ?? []) {
    const key = item.type === 'field' ? `${item.typeName}.${item.fieldName}` : item.typeName;
    if (item.offlineScopes?.length) scopes.set(key, item.offlineScopes);
  }
  return { schema, scopes, file };
}

async function readInput(file) {
  if (file) return readFileSync(file, 'utf8');
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

const at = (node) => (node?.loc ? ` (line ${node.loc.startToken.line}, column ${node.loc.startToken.column})` : '');
const reasonOf = (def) => (def.deprecationReason ? `: ${def.deprecationReason}` : '');

/** Deprecated fields, arguments, input fields and enum values used in the document. */
function deprecationsInDocument(schema, doc) {
  const found = [];
  const typeInfo = new TypeInfo(schema);
  visit(
    doc,
    visitWithTypeInfo(typeInfo, {
      Field(node) {
        const def = typeInfo.getFieldDef();
        if (def?.deprecationReason != null) {
          found.push(`field ${typeInfo.getParentType()}.${def.name} is deprecated${reasonOf(def)}${at(node)}`);
        }
      },
      Argument(node) {
        const arg = typeInfo.getArgument();
        if (arg?.deprecationReason != null) {
          const owner = typeInfo.getDirective() ? `@${typeInfo.getDirective().name}` : `${typeInfo.getParentType()}.${typeInfo.getFieldDef()?.name}`;
          found.push(`argument ${owner}(${arg.name}:) is deprecated${reasonOf(arg)}${at(node)}`);
        }
      },
      ObjectField(node) {
        const parent = getNamedType(typeInfo.getParentInputType());
        if (isInputObjectType(parent)) {
          const field = parent.getFields()[node.name.value];
          if (field?.deprecationReason != null) {
            found.push(`input field ${parent.name}.${field.name} is deprecated${reasonOf(field)}${at(node)}`);
          }
        }
      },
      EnumValue(node) {
        const value = typeInfo.getEnumValue();
        if (value?.deprecationReason != null) {
          found.push(`enum value ${getNamedType(typeInfo.getInputType())}.${value.name} is deprecated${reasonOf(value)}${at(node)}`);
        }
      },
    }),
  );
  return found;
}

/** Deprecated input fields and enum values (and unknown input fields) in a variable value. */
function deprecationsInValue(type, value, path, found) {
  if (value === null || value === undefined) return;
  const nullable = isNonNullType(type) ? type.ofType : type;
  if (isListType(nullable)) {
    const items = Array.isArray(value) ? value : [value];
    items.forEach((item, i) => deprecationsInValue(nullable.ofType, item, Array.isArray(value) ? `${path}[${i}]` : path, found));
    return;
  }
  if (isInputObjectType(nullable)) {
    if (typeof value !== 'object' || Array.isArray(value)) return; // coercion reports it
    const fields = nullable.getFields();
    for (const [key, inner] of Object.entries(value)) {
      const field = fields[key];
      if (!field) {
        found.push(`${path}.${key}: unknown input field ${nullable.name}.${key}`);
        continue;
      }
      if (field.deprecationReason != null) {
        found.push(`${path}.${key}: input field ${nullable.name}.${key} is deprecated${reasonOf(field)}`);
      }
      deprecationsInValue(field.type, inner, `${path}.${key}`, found);
    }
    return;
  }
  if (isEnumType(nullable) && typeof value === 'string') {
    const enumValue = nullable.getValue(value);
    if (enumValue?.deprecationReason != null) {
      found.push(`${path}: enum value ${nullable.name}.${value} is deprecated${reasonOf(enumValue)}`);
    }
  }
}

function checkVariables(schema, operation, variables) {
  const found = [];
  if (variables === undefined) return found;
  if (variables === null || typeof variables !== 'object' || Array.isArray(variables)) {
    return ['variables must be a JSON object'];
  }
  const defs = operation.variableDefinitions ?? [];
  const declared = new Set(defs.map((d) => d.variable.name.value));
  for (const key of Object.keys(variables)) {
    if (!declared.has(key)) found.push(`variable $${key} is not declared by operation ${operation.name?.value ?? '(anonymous)'}`);
  }
  const coerced = getVariableValues(schema, defs, variables, { maxErrors: 100 });
  for (const e of coerced.errors ?? []) found.push(e.message);
  const unknownReported = new Set(found);
  for (const def of defs) {
    const name = def.variable.name.value;
    const type = typeFromAST(schema, def.type);
    if (!type || !(name in variables)) continue;
    const local = [];
    deprecationsInValue(type, variables[name], `$${name}`, local);
    // getVariableValues already names unknown fields; keep ours only when it did not.
    for (const m of local) {
      if (m.includes('unknown input field')) {
        const field = m.split('unknown input field ')[1].split('.').pop();
        if ([...unknownReported].some((u) => u.includes(`Field "${field}" is not defined`))) continue;
      }
      found.push(m);
    }
  }
  return found;
}

function isConnectionType(type) {
  if (!isObjectType(type) || !type.name.endsWith('Connection')) return false;
  const fields = type.getFields();
  return 'pageInfo' in fields && ('edges' in fields || 'nodes' in fields);
}

/** Collects the fields of a selection set that apply to `type`, following fragments. */
function fieldsFor(schema, selectionSet, type, fragments, out = []) {
  for (const sel of selectionSet?.selections ?? []) {
    if (sel.kind === Kind.FIELD) out.push(sel);
    else if (sel.kind === Kind.INLINE_FRAGMENT) {
      const cond = sel.typeCondition ? schema.getType(sel.typeCondition.name.value) : type;
      if (applies(schema, cond, type)) fieldsFor(schema, sel.selectionSet, type, fragments, out);
    } else if (sel.kind === Kind.FRAGMENT_SPREAD) {
      const frag = fragments[sel.name.value];
      if (frag && applies(schema, schema.getType(frag.typeCondition.name.value), type)) {
        fieldsFor(schema, frag.selectionSet, type, fragments, out);
      }
    }
  }
  return out;
}

function applies(schema, condition, type) {
  if (!condition || condition === type) return true;
  if (isAbstractType(condition)) return isObjectType(type) ? schema.isSubType(condition, type) : true;
  return false;
}

/**
 * Walks the selections from the operation root. For each field: its static
 * type, the access scopes listed for it, and Shopify's documented default
 * costs (scalar/enum 0, object 1, connection 2 + first × per-node cost,
 * interface/union the most expensive possible type, mutation 10).
 */
function analyse(schema, scopesIndex, doc, operation, variables) {
  const fragments = Object.fromEntries(doc.definitions.filter((d) => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]));
  const scopes = new Map();
  const connections = []; // { path, depth }
  const unknownSizes = [];
  const addScopes = (key) => {
    const s = scopesIndex.get(key);
    if (s) scopes.set(s.join(' | '), s);
  };
  const argValue = (field, name) => {
    const arg = field.arguments?.find((a) => a.name.value === name);
    if (!arg) return undefined;
    return valueFromAST(arg.value, schema.getType('Int'), variables ?? {});
  };

  function selectionCost(selectionSet, type, path, depth) {
    const types = isAbstractType(type) ? schema.getPossibleTypes(type) : [type];
    let max = 0;
    for (const t of types) {
      let sum = 0;
      for (const field of fieldsFor(schema, selectionSet, t, fragments)) sum += fieldCost(field, t, path, depth);
      max = Math.max(max, sum);
    }
    return max;
  }

  function fieldCost(field, parentType, path, depth) {
    const name = field.name.value;
    if (name === '__typename') return 0;
    const def = parentType.getFields?.()[name];
    if (!def) return 0;
    addScopes(`${parentType.name}.${name}`);
    const named = getNamedType(def.type);
    addScopes(named.name);
    const fieldPath = `${path}${path ? '.' : ''}${field.alias?.value ?? name}`;
    if (isLeafType(named)) return 0;
    if (isConnectionType(named)) {
      connections.push({ path: fieldPath, depth: depth + 1 });
      const size = argValue(field, 'first') ?? argValue(field, 'last');
      if (size === undefined || size === null) unknownSizes.push(fieldPath);
      let perNode = 0;
      for (const f of fieldsFor(schema, field.selectionSet, named, fragments)) {
        const inner = named.getFields()[f.name.value];
        if (!inner) continue;
        addScopes(`${named.name}.${f.name.value}`);
        if (f.name.value === 'nodes') {
          const nodeType = getNamedType(inner.type);
          addScopes(nodeType.name);
          perNode += 1 + selectionCost(f.selectionSet, nodeType, `${fieldPath}.nodes`, depth + 1);
        } else if (f.name.value === 'edges') {
          const edgeType = getNamedType(inner.type);
          for (const e of fieldsFor(schema, f.selectionSet, edgeType, fragments)) {
            if (e.name.value !== 'node') continue;
            const nodeType = getNamedType(edgeType.getFields().node.type);
            addScopes(nodeType.name);
            perNode += 1 + selectionCost(e.selectionSet, nodeType, `${fieldPath}.edges.node`, depth + 1);
          }
        }
      }
      return 2 + (size ?? 0) * perNode;
    }
    return 1 + selectionCost(field.selectionSet, named, fieldPath, depth);
  }

  const root = schema.getRootType(operation.operation);
  let cost = 0;
  for (const field of fieldsFor(schema, operation.selectionSet, root, fragments)) {
    const c = fieldCost(field, root, '', 0);
    cost += operation.operation === 'mutation' ? 10 : c;
  }
  return { cost, connections, unknownSizes, scopes: [...scopes.values()].map((s) => s.join(' | ')).sort() };
}

function checkBulk(doc, operation, entry, analysis) {
  const found = [];
  const operations = doc.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
  if (operations.length !== 1) found.push(`bulk: the document must hold exactly one operation, it holds ${operations.length}`);
  if (operation.operation !== 'query') found.push(`bulk: the operation must be a query, it is a ${operation.operation}`);
  if (operation.variableDefinitions?.length) found.push('bulk: bulk queries take no variables, but the operation declares some');
  if (entry.variables !== undefined) found.push('bulk: bulk queries take no variables, but "variables" is given');
  for (const sel of operation.selectionSet.selections) {
    if (sel.kind === Kind.FIELD && (sel.name.value === 'node' || sel.name.value === 'nodes')) {
      found.push(`bulk: the top-level ${sel.name.value} field can't be used in a bulk query`);
    }
  }
  const { connections } = analysis;
  if (connections.length === 0) found.push('bulk: the query must include at least one connection field');
  if (connections.length > 5) found.push(`bulk: at most five connections are supported, the query has ${connections.length} (${connections.map((c) => c.path).join(', ')})`);
  const deep = connections.filter((c) => c.depth > 2);
  if (deep.length) found.push(`bulk: connections may nest at most two levels deep: ${deep.map((c) => c.path).join(', ')}`);
  return found;
}

function checkDocument(schema, scopesIndex, entry, opts) {
  const messages = [];
  if (typeof entry?.query !== 'string') return { messages: ['entry has no "query" string'] };
  let doc;
  try {
    doc = parse(entry.query);
  } catch (e) {
    return { messages: [`syntax error: ${e.message}`] };
  }
  const errors = validate(schema, doc);
  for (const e of errors) {
    const loc = e.locations?.[0];
    messages.push(`${e.message}${loc ? ` (line ${loc.line}, column ${loc.column})` : ''}`);
  }
  messages.push(...deprecationsInDocument(schema, doc));
  const operations = doc.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
  let report;
  if (operations.length > 0) {
    const operation = operations[0];
    // Coercing variables against an invalid document would repeat its errors.
    if (errors.length === 0) messages.push(...checkVariables(schema, operation, entry.variables));
    const analysis = analyse(schema, scopesIndex, doc, operation, entry.variables);
    if (entry.bulk) messages.push(...checkBulk(doc, operation, entry, analysis));
    const cost = entry.bulk ? null : analysis.unknownSizes.length ? null : analysis.cost;
    if (opts.maxCost !== null && cost !== null && cost > opts.maxCost) {
      messages.push(`estimated requested cost ${cost} exceeds ${opts.maxCost}`);
    }
    report = {
      name: entry.name,
      operation: operation.operation,
      bulk: Boolean(entry.bulk),
      estimatedCost: cost,
      ...(analysis.unknownSizes.length && !entry.bulk ? { costUnknownBecause: `no first/last value for ${analysis.unknownSizes.join(', ')}` } : {}),
      scopes: analysis.scopes,
    };
  }
  return { messages, report };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  let entries;
  try {
    entries = JSON.parse(await readInput(opts.file));
  } catch (e) {
    usage(`cannot read the documents: ${e.message}`);
  }
  if (!Array.isArray(entries)) usage('the input must be a JSON array of { name, query, variables?, bulk? }');
  const { schema, scopes, file } = loadSchema(opts.schema);
  const problems = [];
  const documents = [];
  entries.forEach((entry, i) => {
    const name = entry?.name ?? `#${i}`;
    const { messages, report } = checkDocument(schema, scopes, entry, opts);
    for (const message of messages) problems.push({ name, message });
    if (report) documents.push(report);
  });
  const out = { ok: problems.length === 0, schema: file.split('/').pop(), problems };
  if (opts.report) out.documents = documents;
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  process.exit(problems.length ? 1 : 0);
}

main().catch((e) => {
  process.stderr.write(`${process.env.DEBUG ? e.stack : e.message ?? e}\n`);
  process.exit(2);
});

/**
 * `GET /api/docs`: one self-contained page (no CDN, no framework) that fetches `/api/openapi.json` and lists every
 * endpoint with its parameters, body and answers. With a server token it asks for the token once per tab.
 */
export const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Maestro Server API</title>
<style>
  body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 960px; padding: 1rem 1.5rem 4rem; color: #1d2330; }
  h1 { margin-bottom: .2rem } h2 { margin-top: 2rem; border-bottom: 1px solid #ddd; text-transform: capitalize }
  details { border: 1px solid #dde; border-radius: 6px; margin: .4rem 0; background: #fafbff }
  summary { cursor: pointer; padding: .45rem .6rem; font-family: ui-monospace, monospace }
  .m { display: inline-block; min-width: 4.2rem; font-weight: 700 }
  .get { color: #1769aa } .post { color: #2e7d32 } .put, .patch { color: #a15c00 } .delete { color: #b3261e }
  .s { font-family: system-ui, sans-serif; color: #555; margin-left: .6rem }
  .body { padding: 0 .9rem .6rem } pre { background: #f1f3f8; padding: .6rem; overflow: auto; font-size: 13px }
  table { border-collapse: collapse } td { padding: .1rem .8rem .1rem 0; vertical-align: top }
  #error { color: #b3261e }
</style>
</head>
<body>
<h1>Maestro Server API</h1>
<p>Generated from the server's own schemas: <a href="openapi.json">openapi.json</a> (OpenAPI 3.1) ·
  <a href="asyncapi.json">asyncapi.json</a> (live events). Errors answer <code>{ error, code, message, details? }</code>.</p>
<p id="error"></p>
<div id="api"></div>
<script>
const $ = (tag, props = {}, ...children) => {
  const el = Object.assign(document.createElement(tag), props);
  el.append(...children.filter((c) => c != null));
  return el;
};
const json = (value) => $('pre', { textContent: JSON.stringify(value, null, 2) });
let schemas = {};
// Inline $refs one level deep, so each endpoint reads on its own.
const expand = (schema, depth = 0) => {
  if (!schema || typeof schema !== 'object') return schema;
  if (schema.$ref && depth < 2) return expand(schemas[schema.$ref.split('/').pop()], depth + 1);
  if (Array.isArray(schema)) return schema.map((s) => expand(s, depth));
  return Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, expand(v, depth)]));
};
async function load() {
  const token = sessionStorage.getItem('maestroToken');
  const res = await fetch('openapi.json', { headers: token ? { authorization: 'Bearer ' + token } : {} });
  if (res.status === 401) {
    const given = prompt('This server needs its token (MAESTRO_TOKEN):');
    if (!given) throw new Error('A token is needed to read the API description.');
    sessionStorage.setItem('maestroToken', given);
    return load();
  }
  if (!res.ok) throw new Error('openapi.json answered ' + res.status);
  return res.json();
}
load().then((doc) => {
  schemas = doc.components?.schemas ?? {};
  document.title = doc.info.title + ' ' + doc.info.version;
  const groups = {};
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) (groups[op.tags?.[0] ?? 'other'] ??= []).push({ path, method, op });
  }
  const root = document.getElementById('api');
  for (const [tag, ops] of Object.entries(groups)) {
    root.append($('h2', { textContent: tag }));
    for (const { path, method, op } of ops) {
      const params = (op.parameters ?? []).map((p) =>
        $('tr', {}, $('td', {}, $('code', { textContent: p.name })), $('td', { textContent: p.in + (p.required ? ', required' : '') }),
          $('td', { textContent: [p.schema?.type, p.schema?.enum?.join(' | '), p.schema?.description].filter(Boolean).join(' — ') })));
      const body = op.requestBody?.content?.['application/json']?.schema;
      const answers = Object.entries(op.responses ?? {}).map(([status, r]) => {
        const schema = r.content?.['application/json']?.schema;
        return $('div', {}, $('b', { textContent: status + ' ' }), r.description,
          schema && status.startsWith('2') ? json(expand(schema)) : null);
      });
      root.append($('details', {},
        $('summary', {}, $('span', { className: 'm ' + method, textContent: method.toUpperCase() }), path,
          $('span', { className: 's', textContent: op.summary })),
        $('div', { className: 'body' },
          op.description ? $('p', { textContent: op.description }) : null,
          params.length ? $('table', {}, ...params) : null,
          body ? $('div', {}, $('b', { textContent: 'Body' }), json(expand(body))) : null,
          ...answers)));
    }
  }
}).catch((error) => { document.getElementById('error').textContent = error.message; });
</script>
</body>
</html>
`;

// The API explorer at /api/docs (contract §19): Swagger UI on /api/openapi.json. The token is asked once per tab (kept
// under the dashboard's key) and sent as a bearer header with every request the explorer makes.
const KEY = 'maestro-token';

/** Shows the token dialog and resolves with what was typed. */
function askToken(refused) {
  const dialog = document.getElementById('token-dialog');
  document.getElementById('token-refused').hidden = !refused;
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.querySelector('form').onsubmit = () => resolve(document.getElementById('token').value.trim());
  });
}

/** The API description; a stored token the server refuses is forgotten, and one is asked for only if still needed. */
async function loadDescription() {
  let refused = false;
  for (;;) {
    const token = sessionStorage.getItem(KEY);
    const res = await fetch('/api/openapi.json', { headers: token ? { authorization: `Bearer ${token}` } : {} });
    if (res.status !== 401) return res.json();
    if (token) {
      sessionStorage.removeItem(KEY);
      refused = true;
      continue;
    }
    sessionStorage.setItem(KEY, await askToken(refused));
  }
}

const spec = await loadDescription();
window.SwaggerUIBundle({
  spec,
  dom_id: '#explorer',
  deepLinking: true,
  requestInterceptor: (request) => {
    const token = sessionStorage.getItem(KEY);
    if (token && !request.headers.Authorization) request.headers.Authorization = `Bearer ${token}`;
    return request;
  },
});

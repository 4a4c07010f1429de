/**
 * `GET /api/docs`: the API explorer (Swagger UI, built into the package under /ui/explorer/, no CDN) on
 * `/api/openapi.json`. The page itself holds no data, so it needs no token; its script asks for one when the
 * description does, once per tab, and sends it as a bearer header with every request tried from the page.
 */
export const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Maestro Server API</title>
<link rel="icon" href="/ui/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/ui/explorer/swagger-ui.css">
<style>
  body { margin: 0 }
  dialog { font: 15px/1.45 system-ui, sans-serif; border: 1px solid #ccd; border-radius: 8px; max-width: 26rem }
  dialog input { display: block; width: 100%; margin: .3rem 0 .8rem; padding: .35rem; font: inherit }
</style>
</head>
<body>
<main id="explorer"></main>
<dialog id="token-dialog" aria-labelledby="token-title">
  <form method="dialog">
    <h2 id="token-title">Access token</h2>
    <p><span id="token-refused" hidden>That token was refused. </span>This server needs its access token (MAESTRO_TOKEN) to show its API. It is kept for this tab only.</p>
    <label for="token">Token</label>
    <input id="token" type="password" autocomplete="off" required autofocus>
    <button type="submit">Continue</button>
  </form>
</dialog>
<script src="/ui/explorer/swagger-ui-bundle.js"></script>
<script type="module" src="/ui/explorer/init.js"></script>
</body>
</html>
`;

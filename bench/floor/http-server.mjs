// Floor for list reads: a bare node:http server answering every request with the same bytes (and the headers a
// JSON list answer carries). Usage: node bench/floor/http-server.mjs <file with the body>
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const body = readFileSync(process.argv[2]);
const headers = { 'content-type': 'application/json', 'content-length': body.length, etag: '"floor"' };
const server = createServer((req, res) => {
  req.resume();
  res.writeHead(200, headers);
  res.end(body);
});
server.listen(0, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${server.address().port}`));
process.on('SIGTERM', () => process.exit(0));

// Floor for fan-out: a bare `ws` server that, for each POST, sends one message of the given size (with the
// request's marker in it) to every connected client, then answers. Usage: node bench/floor/ws-broadcast.mjs <bytes>
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';

const size = Number(process.argv[2] ?? 1000);
const server = createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    const mark = /"description":"([^"]*)"/.exec(body)?.[1] ?? '';
    const message = JSON.stringify({ type: 'task:updated', data: { description: mark, pad: 'x'.repeat(Math.max(0, size - 80)) } });
    for (const ws of wss.clients) ws.send(message);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{}');
  });
});
const wss = new WebSocketServer({ server });
server.listen(0, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${server.address().port}`));
process.on('SIGTERM', () => process.exit(0));

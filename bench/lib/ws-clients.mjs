// Fan-out load: opens N WebSocket clients to a server and records, for each marker `mark-<k>` seen in a message,
// how many clients got it and when the last one did. Prints "ready" once all are open; on "report" (stdin) prints
// {"<k>": [clients, lastMs]} on one line. Usage: node bench/lib/ws-clients.mjs <ws url> <n>
import { createInterface } from 'node:readline';
import WebSocket from 'ws';

const [url, n = '500'] = process.argv.slice(2);
const seen = new Map();
const now = () => performance.timeOrigin + performance.now();
let open = 0;
const sockets = [];
for (let i = 0; i < Number(n); i++) {
  const ws = new WebSocket(url, { perMessageDeflate: false, skipUTF8Validation: true });
  sockets.push(ws);
  ws.on('open', () => {
    if (++open === Number(n)) console.log('ready');
  });
  ws.on('message', (data) => {
    const k = /mark-(\d+)/.exec(data.toString())?.[1];
    if (k === undefined) return;
    const entry = seen.get(k) ?? [0, 0];
    entry[0]++;
    entry[1] = now();
    seen.set(k, entry);
  });
  ws.on('error', (error) => console.error(`client ${i}: ${error.message}`));
}
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() !== 'report') return;
  console.log(JSON.stringify(Object.fromEntries(seen)));
  seen.clear();
});
process.on('SIGTERM', () => {
  for (const ws of sockets) ws.terminate();
  process.exit(0);
});

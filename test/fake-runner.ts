// A runner played by the test over the runner protocol (no tmux): the store gets a host and runner-launched sessions,
// and the test sees exactly the frames the server sends "the runner".
import WebSocket from 'ws';
import { onFileEnd } from './helpers.js';

export interface FakeRunner {
  ws: WebSocket;
  /** Every frame received so far that `next` has not taken, in order. */
  frames: any[];
  /** The first received frame of `type` not yet taken (waits for it). */
  next(type: string): Promise<any>;
  send(message: object): void;
  /** Says hello as host `name`, reporting `sessions` (§15.3 step 6). */
  hello(sessions?: object[]): void;
}

/** Connects to `url`'s runner endpoint as host `name` (not yet said: call `hello`); closed at the end of the file. */
export async function fakeRunner(url: string, { name = 'fleet', headers = {} as Record<string, string> } = {}): Promise<FakeRunner> {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/api/hosts/connect`, { headers });
  onFileEnd(() => ws.terminate());
  const frames: any[] = [];
  const waiters: (() => void)[] = [];
  ws.on('message', (data) => {
    frames.push(JSON.parse(String(data)));
    waiters.splice(0).forEach((w) => w());
  });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const next = (type: string) =>
    new Promise<any>((resolve) => {
      const look = () => {
        const i = frames.findIndex((f) => f.type === type);
        if (i >= 0) return resolve(frames.splice(i, 1)[0]);
        waiters.push(look);
      };
      look();
    });
  const send = (message: object) => ws.send(JSON.stringify(message));
  const hello = (sessions: object[] = []) =>
    send({ type: 'hello', name, hostname: name, platform: 'linux', arch: 'x64', version: '1', agents: ['claude'], sessions });
  return { ws, frames, next, send, hello };
}

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { event, minutesAgo, startServer } from '../helpers';

/** The raw HTTP/1.1 responses in `text`, in order (status and body; bodies are sent with Content-Length). */
function responses(text: string): { status: number; body: string }[] {
  const out: { status: number; body: string }[] = [];
  let rest = text;
  while (rest.startsWith('HTTP/1.1 ')) {
    const headEnd = rest.indexOf('\r\n\r\n');
    const head = rest.slice(0, headEnd);
    const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
    out.push({ status: Number(head.slice(9, 12)), body: rest.slice(headEnd + 4, headEnd + 4 + length) });
    rest = rest.slice(headEnd + 4 + length);
  }
  return out;
}

test('a request that arrives while the server closes gets a 503 in the API error shape, not Fastify\'s', async () => {
  const s = await startServer();
  const port = Number(new URL(s.url).port);
  const body = JSON.stringify(event(minutesAgo(1)));
  const socket = connect(port, '127.0.0.1');
  let received = '';
  socket.on('data', (d) => (received += String(d)));
  const ended = new Promise((resolve) => socket.on('close', resolve));
  // A request in flight (its body half sent) holds the connection open while the server begins to close; the
  // request pipelined behind it arrives during the close.
  socket.write(`POST /api/v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`);
  await new Promise((r) => setTimeout(r, 100));
  const closing = s.close();
  await new Promise((r) => setTimeout(r, 100));
  socket.write(`${body.slice(10)}GET /api/v1/series HTTP/1.1\r\nHost: x\r\n\r\n`);
  await ended;
  await closing;
  const [first, second] = responses(received);
  assert.equal(first?.status, 202, received);
  assert.equal(second?.status, 503, received);
  assert.equal(JSON.parse(second.body).error?.code, 'shutting_down', second.body);
  assert.match(received, /retry-after: \d+/i);
});

// Pieces of the browser end-to-end run: the fixture sites served at the platforms' real URLs, the control
// channel to the pytest process that owns the collector, and an HTTP relay in front of the collector that
// can hold requests while the collector is killed mid-publish.
import http from 'node:http';
import readline from 'node:readline';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FIXTURES, render } from '../fixtures/generate.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const CHAT_JS = readFileSync(join(here, 'chat.js'), 'utf8');
const FIX = join(here, '..', 'fixtures');

/** url (no query) -> page; `pages.add(url, html, cfg)` adds variants (empty chat, renamed layout). */
export function sitePages() {
  const pages = new Map();
  const add = (url, html, cfg = {}) => pages.set(url.split(/[?#]/)[0], { html, cfg });
  for (const [name, f] of Object.entries(FIXTURES)) add(f.url, render(name));
  return { pages, add, fixture: (name) => readFileSync(join(FIX, `${name}.html`), 'utf8') };
}

export async function routeSites(context, site) {
  const hosts = new Set([...site.pages.keys()].map((u) => new URL(u).hostname));
  await context.route((url) => hosts.has(url.hostname), (route) => {
    const url = route.request().url().split(/[?#]/)[0];
    const page = site.pages.get(url);
    if (!page || route.request().resourceType() !== 'document') {
      return route.fulfill({ status: 404, contentType: 'text/plain', body: 'not in the fixture' });
    }
    const inject = `<script>window.__FIXTURE__=${JSON.stringify(page.cfg)};</script><script>${CHAT_JS}</script>`;
    return route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: page.html.replace('</body>', `${inject}</body>`) });
  });
}

/** Requests to the pytest side: one JSON line out ("@@control {...}"), one JSON line back on stdin. */
export function controlChannel() {
  const rl = readline.createInterface({ input: process.stdin });
  const waiting = [];
  rl.on('line', (line) => {
    const w = waiting.shift();
    if (w) w(JSON.parse(line));
  });
  return {
    async call(op, args = {}) {
      const reply = new Promise((resolve) => waiting.push(resolve));
      process.stdout.write(`@@control ${JSON.stringify({ op, ...args })}\n`);
      const r = await reply;
      if (!r.ok) throw new Error(`control ${op}: ${r.error}`);
      return r;
    },
    close: () => rl.close(),
  };
}

/**
 * Relay to the collector. `armKill(fn)`: after the next acknowledged conversation upload, hold every
 * further request, run fn (which kills the collector), then let them through (they find no collector and
 * the relay drops their connections, as a dead server would). `dropNextAck()`: the next upload reaches the
 * collector and is stored, but its answer is lost on the way back (the client must retry with the same id;
 * Chromium itself re-sends a request whose reused connection died before any answer, so that retry may come
 * from the network stack or from the extension's outbox: either way it must replace, not duplicate).
 */
export function relay(target) {
  let armed = null;
  let gate = null;
  let dropAck = false;
  const dropped = [];
  const server = http.createServer(async (req, res) => {
    if (gate) await gate;
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const up = http.request(new URL(req.url, target), { method: req.method, headers: req.headers }, (upRes) => {
      const ack = req.method === 'POST' && req.url === '/v1/conversations' && upRes.statusCode < 300;
      if (process.env.SHARELM_E2E_DEBUG) process.stderr.write(`[relay] ${req.method} ${req.url} -> ${upRes.statusCode} ${ack && dropAck ? '(answer dropped)' : ''}\n`);
      if (ack && dropAck) {
        dropAck = false;
        dropped.push(JSON.parse(Buffer.concat(chunks).toString()).conversation_id);
        upRes.resume();
        res.socket.destroy();
        return;
      }
      res.writeHead(upRes.statusCode, upRes.headers);
      upRes.pipe(res);
      upRes.on('end', () => {
        if (ack && armed) {
          const fn = armed;
          armed = null;
          gate = fn().finally(() => { gate = null; });
        }
      });
    });
    up.on('error', () => res.socket && res.socket.destroy());
    up.end(Buffer.concat(chunks));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    url: `http://127.0.0.1:${server.address().port}`,
    armKill: (fn) => { armed = fn; },
    dropNextAck: () => { dropAck = true; },
    dropped,
    close: () => server.close(),
  })));
}

// Storage rules (consent, pause, exclusions, deletion, ratings) and the upload outbox (hold, ack-only
// removal, backoff, idempotent ids, token on first use) over an HTTP server on localhost that answers the
// collector's routes. The real collector is exercised by the browser end-to-end test.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { createStore, memoryArea } = require('../../src/lib/store.js');
const { createOutbox, backoffMs, nextWake } = require('../../src/lib/outbox.js');

const HOUR = 3600 * 1000;

function collectorDouble() {
  const seen = [];
  const state = { status: 201, tokens: new Set(), next: [] };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      const entry = { method: req.method, url: req.url, auth: req.headers.authorization, body: body ? JSON.parse(body) : null };
      seen.push(entry);
      const reply = (code, obj) => { res.writeHead(code, { 'content-type': 'application/json' }); res.end(JSON.stringify(obj)); };
      if (req.url === '/v1/contributors') {
        const token = `tok-${state.tokens.size + 1}`;
        state.tokens.add(token);
        return reply(201, { contributor_id: `contrib-${state.tokens.size}`, token });
      }
      if (req.url === '/v1/contributors/me') return reply(204, {});
      const forced = state.next.shift();
      if (forced) return reply(forced, { detail: `forced ${forced}` });
      if (!state.tokens.has((entry.auth || '').replace('Bearer ', ''))) return reply(401, { detail: 'bad token' });
      if (req.method === 'DELETE') return reply(204, {});
      if (req.method === 'PATCH') return reply(200, { conversation_id: 'x', conversation: [] });
      return reply(state.status, { conversation_id: entry.body.conversation_id, status: 'created' });
    });
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r({ server, seen, state, url: `http://127.0.0.1:${server.address().port}` })));
}

async function setup({ consent = true } = {}) {
  const col = await collectorDouble();
  let t = Date.UTC(2026, 10, 26, 12);
  const clock = { now: () => t, advance: (ms) => { t += ms; } };
  const store = createStore(memoryArea(), { now: clock.now });
  if (consent) await store.setConsent({ terms: true, adult: true });
  await store.setSettings({ collectorUrl: col.url, retryBaseSeconds: 10 });
  const outbox = createOutbox({ store, fetchImpl: fetch, getRedactor: async () => null, now: clock.now, rand: () => 0.5 });
  return { col, clock, store, outbox, close: () => col.server.close() };
}

const capture = (key, n = 1, extra = {}) => ({
  key, platform: 'chatgpt', platformConversationId: key.split(':')[1], pageUrl: 'https://chatgpt.com/c/x',
  modelName: 'm', title: 't',
  messages: Array.from({ length: n }, (_, i) => [{ role: 'user', content: `q${i}` }, { role: 'assistant', content: `a${i}` }]).flat(),
  ...extra,
});

test('nothing is stored before consent, while paused, on excluded sites, or after deletion', async () => {
  const s = await setup({ consent: false });
  try {
    assert.deepEqual(await s.store.capture(capture('chatgpt:1')), { stored: false, reason: 'no consent' });
    await s.store.setConsent({ terms: true, adult: false });
    assert.equal((await s.store.capture(capture('chatgpt:1'))).stored, false, 'terms without 18+ is not consent');
    await s.store.setConsent({ terms: true, adult: true });
    assert.equal((await s.store.capture(capture('chatgpt:1'))).stored, true);
    await s.store.setSettings({ paused: true });
    assert.equal((await s.store.capture(capture('chatgpt:2'))).reason, 'paused');
    await s.store.setSettings({ paused: false, excludedSites: ['chatgpt'] });
    assert.equal((await s.store.capture(capture('chatgpt:2'))).reason, 'site excluded');
    await s.store.setSettings({ excludedSites: [] });
    await s.store.remove('chatgpt:1');
    assert.equal((await s.store.capture(capture('chatgpt:1', 2))).reason, 'deleted by the user');
    assert.deepEqual((await s.store.records()).map((r) => r.key), []);
  } finally {
    s.close();
  }
});

test('a chat that gets its platform id mid-way keeps one record; ratings toggle', async () => {
  const s = await setup();
  try {
    await s.store.capture(capture('chatgpt:local-1'));
    const first = await s.store.record('chatgpt:local-1');
    await s.store.capture(capture('chatgpt:abc', 2, { previousKey: 'chatgpt:local-1' }));
    const recs = await s.store.records();
    assert.deepEqual(recs.map((r) => r.key), ['chatgpt:abc']);
    assert.equal(recs[0].conversation_id, first.conversation_id);
    assert.equal((await s.store.rateMessage('chatgpt:abc', 1, -1)).message_ratings.join(), '0,-1');
    assert.equal((await s.store.rateMessage('chatgpt:abc', 1, -1)).message_ratings.join(), '0,0');
    assert.equal((await s.store.rateConversation('chatgpt:abc', 'thumbup')).rate, 'thumbup');
  } finally {
    s.close();
  }
});

test('hold: nothing leaves before it; after it, one upload with a Bearer token, then the local copy goes', async () => {
  const s = await setup();
  try {
    await s.store.capture(capture('chatgpt:1'));
    assert.equal((await s.outbox.flush()).sent, 0);
    assert.equal(s.col.seen.length, 0);
    s.clock.advance(24 * HOUR);
    assert.equal((await s.outbox.flush()).sent, 1);
    const posts = s.col.seen.filter((e) => e.url === '/v1/conversations');
    assert.equal(posts.length, 1);
    assert.equal(posts[0].auth, 'Bearer tok-1');
    assert.equal(posts[0].body.user_id, 'contrib-1');
    assert.deepEqual(await s.store.records(), []);
    // The same conversation captured again (it grew) goes out under the same id: the server replaces it.
    await s.store.capture(capture('chatgpt:1', 2));
    await s.outbox.flush({ force: true });
    const again = s.col.seen.filter((e) => e.url === '/v1/conversations');
    assert.equal(again[1].body.conversation_id, again[0].body.conversation_id);
    assert.equal(s.col.seen.filter((e) => e.url === '/v1/contributors').length, 1, 'token registered once');
  } finally {
    s.close();
  }
});

test('failures keep the conversation and back off; it is sent once the server answers', async () => {
  const s = await setup();
  try {
    await s.store.capture(capture('chatgpt:1'));
    await s.outbox.flush({ force: true }); // registers the token
    await s.store.capture(capture('chatgpt:2'));
    s.col.state.next.push(503);
    const r = await s.outbox.flush({ force: true });
    assert.equal(r.failed, 1);
    const rec = await s.store.record('chatgpt:2');
    assert.equal(rec.upload.attempts, 1);
    assert.equal(rec.upload.next_attempt_at, s.clock.now() + 10000);
    s.clock.advance(24 * HOUR - 60000);
    await s.store.setSettings({ holdHours: 0 });
    s.col.state.next.push(500);
    await s.outbox.flush();
    assert.equal((await s.store.record('chatgpt:2')).upload.attempts, 2, 'retried when due');
    assert.equal((await s.store.record('chatgpt:2')).upload.next_attempt_at, s.clock.now() + 20000, 'backoff doubles');
    await s.outbox.flush();
    assert.equal((await s.store.record('chatgpt:2')).upload.attempts, 2, 'not retried before the backoff ends');
    s.clock.advance(20000);
    assert.equal((await s.outbox.flush()).sent, 1);
    assert.deepEqual(await s.store.records(), []);
  } finally {
    s.close();
  }
});

test('an unreachable collector loses nothing', async () => {
  const s = await setup();
  try {
    s.col.server.close();
    await s.store.capture(capture('chatgpt:1'));
    const r = await s.outbox.flush({ force: true });
    assert.equal(r.failed, 1);
    assert.match((await s.store.record('chatgpt:1')).upload.last_error, /^collector unreachable at http:\/\/127\.0\.0\.1:\d+ \(fetch failed\)/);
  } finally {
    s.close();
  }
});

test('a 4xx is shown as rejected and not retried until the conversation changes', async () => {
  const s = await setup();
  try {
    await s.store.capture(capture('chatgpt:1'));
    await s.outbox.flush({ force: true });
    await s.store.capture(capture('chatgpt:2'));
    s.col.state.next.push(422);
    const r = await s.outbox.flush({ force: true });
    assert.equal(r.rejected, 1);
    assert.match(r.errors[0], /HTTP 422: forced 422/);
    assert.equal((await s.outbox.flush({ force: true })).sent, 0);
    await s.store.capture(capture('chatgpt:2', 2));
    assert.equal((await s.outbox.flush({ force: true })).sent, 1);
  } finally {
    s.close();
  }
});

test('a change made while the upload was in flight is not dropped by the acknowledgement', async () => {
  const s = await setup();
  try {
    await s.store.capture(capture('chatgpt:1'));
    const rec = await s.store.record('chatgpt:1');
    await s.store.rateMessage('chatgpt:1', 0, 1); // version moves on after the body was built
    await s.store.acknowledge('chatgpt:1', rec.version, rec.conversation_id);
    const kept = await s.store.record('chatgpt:1');
    assert.ok(kept, 'record kept');
    assert.deepEqual(kept.message_ratings, [1]);
  } finally {
    s.close();
  }
});

test('after upload: an unchanged re-capture is not kept again; a grown one is, under the same id and ratings', async () => {
  const s = await setup();
  try {
    await s.store.capture(capture('chatgpt:1'));
    await s.store.rateMessage('chatgpt:1', 0, -1);
    await s.store.rateConversation('chatgpt:1', 'thumbdown');
    const id = (await s.store.record('chatgpt:1')).conversation_id;
    assert.equal((await s.outbox.flush({ force: true })).sent, 1);
    assert.deepEqual(await s.store.capture(capture('chatgpt:1')),
      { stored: false, reason: 'already shared', shared: true, message_ratings: [-1] });
    assert.deepEqual(await s.store.records(), []);
    assert.equal((await s.store.capture(capture('chatgpt:1', 2))).stored, true);
    const again = await s.store.record('chatgpt:1');
    assert.equal(again.conversation_id, id);
    assert.deepEqual(again.message_ratings, [-1]);
    assert.equal(again.rate, 'thumbdown');
  } finally {
    s.close();
  }
});

test('ratings given after sharing are PATCHed to the collector, retried on failure, dropped on 404', async () => {
  const s = await setup();
  try {
    await s.store.capture(capture('chatgpt:1', 2));
    await s.outbox.flush({ force: true });
    const id = (await s.store.uploaded())['chatgpt:1'].conversation_id;
    const r = await s.store.rateMessage('chatgpt:1', 1, 1);
    assert.equal(r.shared, true);
    assert.deepEqual(r.message_ratings, [0, 1]);
    await s.store.rateConversation('chatgpt:1', 'thumbup');
    s.col.state.next.push(503);
    await s.outbox.flush();
    assert.equal((await s.store.uploaded())['chatgpt:1'].rating_dirty, true, 'kept after a failure');
    assert.equal((await s.store.uploaded())['chatgpt:1'].rating_next_at, s.clock.now() + 10000);
    await s.outbox.flush();
    assert.equal(s.col.seen.filter((e) => e.method === 'PATCH').length, 1, 'waits for its backoff');
    s.clock.advance(10000);
    await s.outbox.flush();
    const patches = s.col.seen.filter((e) => e.method === 'PATCH');
    assert.equal(patches.length, 2);
    assert.equal(patches[1].url, `/v1/conversations/${id}/rating`);
    assert.deepEqual(patches[1].body, { rate: 'thumbup', message_ratings: [0, 1] });
    assert.equal((await s.store.uploaded())['chatgpt:1'].rating_dirty, false);
    await s.outbox.flush();
    assert.equal(s.col.seen.filter((e) => e.method === 'PATCH').length, 2, 'nothing more to send');
  } finally {
    s.close();
  }
});

test('after "delete my data" the erased conversations are not captured again', async () => {
  const s = await setup();
  try {
    await s.store.capture(capture('chatgpt:1'));
    await s.outbox.flush({ force: true });
    assert.deepEqual(await s.outbox.deleteMyData(), { deleted: true });
    assert.equal((await s.store.capture(capture('chatgpt:1', 2))).reason, 'deleted by the user');
    assert.equal((await s.store.capture(capture('chatgpt:2'))).stored, true, 'new conversations still are');
  } finally {
    s.close();
  }
});

test('an expired token is replaced; "delete my data" calls the API and forgets the token', async () => {
  const s = await setup();
  try {
    await s.store.setAuth({ token: 'stale', contributor_id: 'gone' });
    await s.store.capture(capture('chatgpt:1'));
    assert.equal((await s.outbox.flush({ force: true })).sent, 1);
    assert.equal((await s.store.auth()).token, 'tok-1');
    assert.deepEqual(await s.outbox.deleteMyData(), { deleted: true });
    const del = s.col.seen.find((e) => e.method === 'DELETE');
    assert.equal(del.url, '/v1/contributors/me');
    assert.equal(del.auth, 'Bearer tok-1');
    assert.equal(await s.store.auth(), null);
  } finally {
    s.close();
  }
});

test('a shared conversation can be deleted on the server, and is not captured again', async () => {
  const s = await setup();
  try {
    await s.store.capture(capture('chatgpt:1'));
    assert.equal((await s.outbox.flush({ force: true })).sent, 1);
    const shared = await s.store.uploaded();
    assert.deepEqual(Object.keys(shared), ['chatgpt:1']);
    assert.equal(shared['chatgpt:1'].preview, 'q0');
    assert.deepEqual(await s.outbox.deleteShared('chatgpt:1'), { deleted: true });
    const del = s.col.seen.find((e) => e.method === 'DELETE');
    assert.equal(del.url, `/v1/conversations/${shared['chatgpt:1'].conversation_id}`);
    assert.deepEqual(await s.store.uploaded(), {});
    assert.equal((await s.store.capture(capture('chatgpt:1', 2))).reason, 'deleted by the user');
  } finally {
    s.close();
  }
});

test('backoff grows exponentially with jitter and a cap; next wake is the earliest due time', () => {
  const settings = { retryBaseSeconds: 30, retryMaxSeconds: 3600, holdHours: 1 };
  assert.equal(backoffMs(0, settings, () => 0.5), 30000);
  assert.equal(backoffMs(3, settings, () => 0.5), 240000);
  assert.equal(backoffMs(20, settings, () => 0.5), 3600000);
  assert.equal(backoffMs(0, settings, () => 0), 24000);
  const rec = (u, next) => ({ dont_share: false, upload: { next_attempt_at: next, rejected: null }, updated_at: u,
    messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: 'a' }] });
  assert.equal(nextWake([rec(0, 0), rec(100, 5 * HOUR)], settings), HOUR);
  assert.equal(nextWake([], settings), null);
});

test('a conversation whose "publish now" failed is retried after the backoff, not after the hold', async () => {
  const s = await setup();
  try {
    await s.store.capture(capture('chatgpt:1'));
    s.col.state.next.push(502);
    // The token request succeeds, the upload gets a 502.
    assert.equal((await s.outbox.flush({ force: true })).failed, 1);
    assert.equal((await s.outbox.flush()).sent, 0, 'backoff not over');
    s.clock.advance(12000);
    assert.equal((await s.outbox.flush()).sent, 1, 'sent without waiting 24 h');
  } finally {
    s.close();
  }
});

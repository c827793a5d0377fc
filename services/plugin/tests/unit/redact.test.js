// The extension redacts with sharelm's own rules file, and gets the same answer as `sharelm.redact`
// (Python) on the same texts: both engines are run here on one corpus and compared.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { readFileSync, existsSync, mkdtempSync } = require('node:fs');
const { join, resolve } = require('node:path');
const { tmpdir } = require('node:os');
const { spawnSync } = require('node:child_process');
const { createRedactor } = require('../../src/lib/redact.js');

const REPO = resolve(__dirname, '..', '..', '..', '..');
const RULES = join(REPO, 'packages', 'collection', 'src', 'sharelm', 'data', 'redaction_rules.json');
const PYTHON = process.env.SHARELM_PYTHON || join(REPO, '.venv', 'bin', 'python');
const rules = JSON.parse(readFileSync(RULES, 'utf8'));
const redactor = createRedactor(rules);

const CORPUS = [
  'mail me at jane.doe@example.com or j.smith+tag@sub.example.co.uk',
  'Call me at +1 415 555 0132 or (020) 7946 0958, not on 2024-05-12 or 1 000 000',
  'card 4111 1111 1111 1111 and 4111 1111 1111 1112 (bad checksum)',
  'IBAN DE89 3704 0044 0532 0130 00 and GB82WEST12345698765432',
  'server 192.168.0.12, v6 2001:db8:85a3::8a2e:370:7334, mac 00:1A:2B:3C:4D:5E',
  'OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwxyz012345 and password: hunter2hunter2',
  'Authorization: Bearer abc123def456ghi789',
  'see https://example.com/reset?token=abc123&user=9#top for details',
  'print(nums[::-1]) # version 3.11.2, 10.5 ms, ratio 1:2:3',
  '-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----',
  'api_key = os.environ["KEY"] and token: MY_TOKEN_NAME',
  'Nothing personal in this sentence at all.',
];

test('the build ships the collection package rules byte for byte', () => {
  const out = mkdtempSync(join(tmpdir(), 'sharelm-build-'));
  const res = spawnSync(process.execPath, [join(__dirname, '..', '..', 'scripts', 'build.mjs'), '--out', out]);
  assert.equal(res.status, 0, String(res.stderr));
  for (const browser of ['chrome', 'firefox']) {
    assert.equal(readFileSync(join(out, browser, 'rules', 'redaction_rules.json'), 'utf8'), readFileSync(RULES, 'utf8'));
  }
});

test('placeholders and counts', () => {
  const r = redactor.redact('write to jane.doe@example.com or call +1 415 555 0132');
  assert.equal(r.text, 'write to [REDACTED_EMAIL] or call [REDACTED_PHONE]');
  assert.deepEqual(r.counts, { email: 1, phone: 1 });
  assert.deepEqual(redactor.redact('print(nums[::-1])').counts, {});
});

test('unknown checks are refused, not ignored', () => {
  assert.throws(() => createRedactor({ rules: [{ type: 'x', placeholder: '[X]', pattern: 'x', check: 'nope' }] }), /unknown check/);
});

// Python side: sharelm's rules that both engines run (python-only rules, such as names, are skipped here).
const PY_SHARED = [
  'import json,sys',
  'from sharelm.redact import Redactor, default_rules',
  "shared = Redactor([r for r in default_rules() if 'javascript' in r.engines])",
].join('\n');

function pythonRedacts(texts) {
  const script = PY_SHARED + '\nprint(json.dumps([shared.redact(t) for t in json.load(sys.stdin)]))';
  const res = spawnSync(PYTHON, ['-c', script], { input: JSON.stringify(texts), encoding: 'utf8' });
  assert.equal(res.status, 0, res.stderr);
  return JSON.parse(res.stdout);
}

function assertSame(texts, py) {
  texts.forEach((text, i) => {
    const js = redactor.redact(text);
    assert.equal(js.text, py[i][0], `text differs for ${JSON.stringify(text)}`);
    assert.deepEqual(js.counts, py[i][1], `counts differ for ${JSON.stringify(text)}`);
  });
}

test('same output as sharelm.redact (Python) on the corpus', { skip: !existsSync(PYTHON) && 'no .venv python' }, () => {
  const py = pythonRedacts(CORPUS);
  assertSame(CORPUS, py);
  // The corpus exercises most rule types (not a test that passes on empty output).
  const types = new Set(py.flatMap(([, c]) => Object.keys(c)));
  assert.ok(types.size >= 8, `only ${[...types]} matched`);
});

test('every shared rule: its example and the labelled set, positives and look-alikes, redact the same', {
  skip: !existsSync(PYTHON) && 'no .venv python',
}, () => {
  const bench = join(REPO, 'packages', 'collection', 'benchmarks');
  const script = `import json,sys\nsys.path.insert(0, ${JSON.stringify(bench)})\n` +
    'from sharelm_bench.labelled import labelled_set\n' + PY_SHARED + '\n' +
    'texts = [e.text for e in labelled_set(per_kind=8, seed=4)]\n' +
    'print(json.dumps([[t, *shared.redact(t)] for t in texts]))';
  const res = spawnSync(PYTHON, ['-c', script], { encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(res.status, 0, res.stderr);
  const rows = JSON.parse(res.stdout);
  const examples = rules.rules.filter((r) => (r.engines || ['python', 'javascript']).includes('javascript'))
    .map((r) => r.example);
  const texts = [...rows.map(([t]) => t), ...examples];
  const py = [...rows.map(([, out, counts]) => [out, counts]), ...pythonRedacts(examples)];
  assertSame(texts, py);
  const types = new Set(py.flatMap(([, c]) => Object.keys(c)));
  const shared = new Set(rules.rules.filter((r) => !(r.engines || []).length || r.engines.includes('javascript')).map((r) => r.type));
  assert.deepEqual([...types].sort(), [...shared].sort(), 'every shared type was exercised');
});

test('python-only rules are skipped, not half-run', () => {
  assert.deepEqual(redactor.skipped, rules.rules.filter((r) => !(r.engines || ['javascript']).includes('javascript')).map((r) => r.type));
  assert.ok(redactor.skipped.includes('name'));
  assert.equal(redactor.redact('Hi, my name is Henrik Sørensen').text, 'Hi, my name is Henrik Sørensen');
});

// Client-side PII redaction, driven by THE rules file of `sharelm.redact`
// (packages/collection/src/sharelm/data/redaction_rules.json, copied into the extension by the build).
// This mirrors sharelm/redact.py rule for rule and check for check (sharelm/redaction/checks.py); rules that
// are code rather than a pattern (engines: ["python"], e.g. the name rule) are skipped here and redacted by
// the collector on arrival. tests/unit/redact.test.js compares both engines on the same texts.
(function (root) {
  'use strict';

  const DIGIT = /\d/;
  const DATE_LIKE = /^(?:\d{4}[-/. ]\d{1,2}[-/. ]\d{1,2}|\d{1,2}[-/. ]\d{1,2}[-/. ]\d{4})(?!\d)/;
  const THOUSANDS = /^\d{1,3}(?:[ .]\d{3})+$/;
  const ID_SHAPE = /^(?:\d{3}-\d{2}-\d{4}|\d{2}\.\d{2}\.\d{2}-\d{3}\.\d{2})$/;
  const CODE_CHARS = /[()[\]{}<>$]/;
  const ENV_NAME = /^[A-Z][A-Z0-9_]*$/;
  const CODE_PREFIXES = ['os.', 'env.', 'process.', 'self.', 'config.', 'settings.', 'args.', 'request.'];
  const PW_CODE = /[()[\]{}<>]|^\$|\$\{|^[A-Z][A-Z0-9_]*$/;
  const FIELD_WORDS = new Set(('str string int bool boolean text varchar char none null nil undefined true false ' +
    'required optional hidden redacted secret password passwd empty blank masked encrypted hashed type value ' +
    'field input example placeholder here yours mine').split(' '));
  const NON_ALNUM = /[^\p{L}\p{N}]/u;
  const LETTER = /\p{L}/u;

  const digitsOf = (value) => Array.from(value).filter((c) => c >= '0' && c <= '9').join('');
  const hasUpper = (v) => v.toLowerCase() !== v;
  const mixedCase = (v) => v.toLowerCase() !== v && v.toUpperCase() !== v;
  const startsWithAny = (v, prefixes) => prefixes.some((p) => v.startsWith(p));

  function validDate(year, month, day) {
    const d = new Date(Date.UTC(year, month - 1, day));
    return month >= 1 && month <= 12 && d.getUTCMonth() === month - 1 && d.getUTCDate() === day;
  }

  function luhnDigits(digits) {
    let total = 0;
    Array.from(digits).reverse().forEach((c, i) => {
      let d = Number(c);
      if (i % 2) d = d > 4 ? d * 2 - 9 : d * 2;
      total += d;
    });
    return total % 10 === 0;
  }

  function luhn(value) {
    const digits = digitsOf(value);
    return digits.length >= 13 && digits.length <= 19 && luhnDigits(digits);
  }

  function iban(value) {
    const s = value.replace(/ /g, '').toUpperCase();
    if (s.length < 15 || s.length > 34 || !/^[A-Z0-9]+$/.test(s)) return false;
    const rearranged = s.slice(4) + s.slice(0, 4);
    let rem = 0;
    for (const c of rearranged) {
      const n = parseInt(c, 36);
      rem = n > 9 ? (rem * 100 + n) % 97 : (rem * 10 + n) % 97;
    }
    return rem === 1;
  }

  function phone(value) {
    const n = (value.match(/\d/g) || []).length;
    const [lo, hi] = value.startsWith('+') ? [8, 15] : [9, 12];
    if (n < lo || n > hi) return false;
    if (DATE_LIKE.test(value) || ID_SHAPE.test(value)) return false;
    return !THOUSANDS.test(value);
  }

  function ipv6(value) {
    const addr = value.split('%', 1)[0];
    if (addr.split('::').length - 1 > 1 || addr.includes(':::')) return false;
    const groups = addr.split(':').filter(Boolean);
    if (addr.includes('::')) {
      if (groups.length < 2 || groups.length > 7) return false;
    } else if (groups.length !== 8 || addr.startsWith(':') || addr.endsWith(':')) {
      return false;
    }
    if (groups.some((g) => g.length > 4)) return false;
    return groups.some((g) => g.length >= 3);
  }

  function looksLikeCode(value) {
    return CODE_CHARS.test(value) || ENV_NAME.test(value) || startsWithAny(value, CODE_PREFIXES);
  }

  function secret(value) {
    if (looksLikeCode(value)) return false;
    if (DIGIT.test(value)) return true;
    return value.length >= 12 && (NON_ALNUM.test(value) || mixedCase(value));
  }

  function password(value) {
    const v = value.replace(/\.+$/, '');
    if (v.length < 4 || PW_CODE.test(v) || startsWithAny(v, CODE_PREFIXES) || FIELD_WORDS.has(v.toLowerCase())) {
      return false;
    }
    if (new Set(v).size === 1) return false;
    return DIGIT.test(v) || NON_ALNUM.test(v) || hasUpper(v) || v.length >= 8;
  }

  function passwordSaid(value) {
    const v = value.replace(/\.+$/, '');
    return password(v) && (DIGIT.test(v) || NON_ALNUM.test(v) || mixedCase(v));
  }

  function token(value) {
    if (DIGIT.test(value) && LETTER.test(value)) return true;
    return value.length >= 20 && mixedCase(value);
  }

  function handle(value) {
    const name = value.slice(1);
    return DIGIT.test(name) && LETTER.test(name) && !/^\d+$/.test(name);
  }

  function ssn(value) {
    const d = digitsOf(value);
    if (d.length !== 9) return false;
    return !['000', '666'].includes(d.slice(0, 3)) && d[0] !== '9' && d.slice(3, 5) !== '00' && d.slice(5) !== '0000';
  }

  function dni(value) {
    let s = value.replace(/[- ]/g, '').toUpperCase();
    if ('XYZ'.includes(s[0])) s = String('XYZ'.indexOf(s[0])) + s.slice(1);
    return s.length === 9 && /^\d{8}$/.test(s.slice(0, 8)) && 'TRWAGMYFPDXBNJZSQVHLCKE'[Number(s.slice(0, 8)) % 23] === s[8];
  }

  const CF_ODD = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23];
  function codiceFiscale(value) {
    const s = value.toUpperCase();
    if (s.length !== 16) return false;
    let total = 0;
    for (let i = 0; i < 15; i++) {
      const c = s[i];
      const n = c >= '0' && c <= '9' ? Number(c) : c.charCodeAt(0) - 65;
      total += i % 2 === 0 ? CF_ODD[n] : n;
    }
    return String.fromCharCode(65 + (total % 26)) === s[15];
  }

  function nir(value) {
    const s = value.replace(/ /g, '').toUpperCase();
    if (s.length !== 15) return false;
    const dept = { '2A': '19', '2B': '18' }[s.slice(5, 7)] || s.slice(5, 7);
    const body = s.slice(0, 5) + dept + s.slice(7, 13);
    if (!/^\d+$/.test(body) || !/^\d+$/.test(s.slice(13))) return false;
    return 97 - (Number(body) % 97) === Number(s.slice(13));
  }

  function steuerId(value) {
    const d = digitsOf(value);
    if (d.length !== 11 || d[0] === '0') return false;
    let product = 10;
    for (const c of d.slice(0, 10)) {
      const total = (Number(c) + product) % 10 || 10;
      product = (total * 2) % 11;
    }
    return (11 - product) % 10 === Number(d[10]);
  }

  function bsn(value) {
    const d = digitsOf(value);
    if (d.length !== 9) return false;
    let total = -Number(d[8]);
    for (let i = 0; i < 8; i++) total += Number(d[i]) * (9 - i);
    return total % 11 === 0 && Number(d) !== 0;
  }

  function pesel(value) {
    const d = digitsOf(value);
    if (d.length !== 11) return false;
    const w = [1, 3, 7, 9, 1, 3, 7, 9, 1, 3];
    const sum = w.reduce((acc, x, i) => acc + x * Number(d[i]), 0);
    if ((10 - (sum % 10)) % 10 !== Number(d[10])) return false;
    const mm = Number(d.slice(2, 4));
    const century = { 0: 1900, 1: 2000, 2: 2100, 3: 2200, 4: 1800 }[Math.floor(mm / 20)];
    return century !== undefined && validDate(century + Number(d.slice(0, 2)), mm % 20, Number(d.slice(4, 6)));
  }

  function personnummer(value) {
    let d = digitsOf(value);
    if (d.length !== 10 && d.length !== 12) return false;
    d = d.slice(-10);
    return validDate(2000, Number(d.slice(2, 4)), Number(d.slice(4, 6)) % 60) && luhnDigits(d);
  }

  function beNrn(value) {
    const d = digitsOf(value);
    if (d.length !== 11) return false;
    const check = Number(d.slice(9));
    return check === 97 - (Number(d.slice(0, 9)) % 97) || check === 97 - (Number('2' + d.slice(0, 9)) % 97);
  }

  const HETU_CHECK = '0123456789ABCDEFHJKLMNPRSTUVWXY';
  function hetu(value) {
    const s = value.toUpperCase();
    const digits = s.slice(0, 6) + s.slice(7, 10);
    if (s.length !== 11 || !/^\d{9}$/.test(digits)) return false;
    if (!validDate(2000, Number(s.slice(2, 4)), Number(s.slice(0, 2)))) return false;
    return HETU_CHECK[Number(digits) % 31] === s[10];
  }

  const CHECKS = {
    luhn, iban, phone, ipv6, secret, password, password_said: passwordSaid, token, handle, ssn, dni,
    codice_fiscale: codiceFiscale, nir, steuer_id: steuerId, bsn, pesel, personnummer, be_nrn: beNrn, hetu,
  };

  function compile(spec) {
    const ignoreCase = (spec.flags || '').includes('i');
    if (spec.check && !CHECKS[spec.check]) {
      throw new Error(`redaction rule ${spec.type}: unknown check ${spec.check}`);
    }
    const requires = spec.requires || [];
    return {
      type: spec.type,
      placeholder: spec.placeholder,
      regex: new RegExp(spec.pattern, ignoreCase ? 'gi' : 'g'),
      keepPrefixGroup: Number(spec.keep_prefix_group || 0),
      check: spec.check ? CHECKS[spec.check] : null,
      requires: ignoreCase ? requires.map((r) => r.toLowerCase()) : requires,
      ignoreCase,
    };
  }

  const runsHere = (spec) => (spec.engines || ['python', 'javascript']).includes('javascript');

  /** A redactor over a parsed rules file: {redact(text) -> {text, counts}, skipped}. Rules marked
   * python-only (code in sharelm, such as the name rule with its lexicon) are skipped and listed. */
  function createRedactor(rulesFile) {
    if (!rulesFile || !Array.isArray(rulesFile.rules)) throw new Error('redaction rules: "rules" list missing');
    const rules = rulesFile.rules.filter(runsHere).map(compile);
    const skipped = rulesFile.rules.filter((r) => !runsHere(r)).map((r) => r.type);
    function redact(text) {
      const counts = {};
      for (const rule of rules) {
        if (rule.requires.length) {
          const hay = rule.ignoreCase ? text.toLowerCase() : text;
          if (!rule.requires.some((r) => hay.includes(r))) continue;
        }
        rule.regex.lastIndex = 0;
        text = text.replace(rule.regex, (...args) => {
          const whole = args[0];
          const prefix = rule.keepPrefixGroup ? args[rule.keepPrefixGroup] || '' : '';
          if (rule.check && !rule.check(whole.slice(prefix.length))) return whole;
          counts[rule.type] = (counts[rule.type] || 0) + 1;
          return prefix + rule.placeholder;
        });
      }
      return { text, counts };
    }
    return { redact, version: rulesFile.version, skipped };
  }

  function merge(into, counts) {
    for (const [k, v] of Object.entries(counts)) into[k] = (into[k] || 0) + v;
    return into;
  }

  const api = { createRedactor, merge, checks: CHECKS };
  root.ShareLM = root.ShareLM || {};
  root.ShareLM.redact = api;
  if (typeof module === 'object' && module.exports) module.exports = api;
})(globalThis);

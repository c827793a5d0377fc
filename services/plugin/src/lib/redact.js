// Client-side PII redaction, driven by THE rules file of `sharelm.redact`
// (packages/collection/src/sharelm/data/redaction_rules.json, copied into the extension by the build).
// This mirrors sharelm/redact.py rule for rule and check for check; tests/unit/redact.test.js compares both
// engines on the same texts.
(function (root) {
  'use strict';

  const DIGIT = /\d/;
  const DATE_LIKE = /^(?:\d{4}[-/. ]\d{1,2}[-/. ]\d{1,2}|\d{1,2}[-/. ]\d{1,2}[-/. ]\d{4})(?!\d)/;
  const THOUSANDS = /^\d{1,3}(?:[ .]\d{3})+$/;
  const CODE_CHARS = /[()[\]{}<>$]/;
  const ENV_NAME = /^[A-Z][A-Z0-9_]*$/;

  function luhn(value) {
    const digits = Array.from(value).filter((c) => c >= '0' && c <= '9').map(Number);
    if (digits.length < 13 || digits.length > 19) return false;
    let total = 0;
    digits.reverse().forEach((d, i) => {
      if (i % 2) {
        d *= 2;
        if (d > 9) d -= 9;
      }
      total += d;
    });
    return total % 10 === 0;
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
    const lo = value.startsWith('+') ? 8 : 9;
    if (n < lo || n > 15) return false;
    if (DATE_LIKE.test(value)) return false;
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

  function secret(value) {
    if (CODE_CHARS.test(value) || ENV_NAME.test(value)) return false;
    if (['os.', 'env.', 'process.'].some((p) => value.startsWith(p))) return false;
    if (DIGIT.test(value)) return true;
    const hasSymbol = /[^\p{L}\p{N}]/u.test(value);
    const mixedCase = value.toLowerCase() !== value && value.toUpperCase() !== value;
    return value.length >= 12 && (hasSymbol || mixedCase);
  }

  function token(value) {
    return DIGIT.test(value) && /\p{L}/u.test(value);
  }

  const CHECKS = { luhn, iban, phone, ipv6, secret, token };

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

  /** A redactor over a parsed rules file: {redact(text) -> {text, counts}}. */
  function createRedactor(rulesFile) {
    if (!rulesFile || !Array.isArray(rulesFile.rules)) throw new Error('redaction rules: "rules" list missing');
    const rules = rulesFile.rules.map(compile);
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
    return { redact, version: rulesFile.version };
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

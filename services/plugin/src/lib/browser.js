// One name for the WebExtension API: Firefox has `browser` (promises), Chrome `chrome` (promises in MV3).
(function (root) {
  'use strict';
  root.ShareLM = root.ShareLM || {};
  root.ShareLM.ext = root.browser && root.browser.runtime ? root.browser : root.chrome;
})(globalThis);

// The page that shows a new API key once: a button that copies it (the Content-Security-Policy allows scripts from
// this site only, so this is a file, not an inline handler). Without a clipboard (an http:// page in some
// browsers) the button selects the key for the user to copy.
(function () {
  "use strict";
  var field = document.getElementById("raw-key");
  var button = document.getElementById("copy-key");
  if (!field || !button) return;
  field.addEventListener("focus", function () { field.select(); });
  button.hidden = false;
  button.addEventListener("click", function () {
    field.focus();
    field.select();
    var done = function () { button.textContent = button.dataset.copied; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, function () {});
    } else if (document.execCommand && document.execCommand("copy")) {
      done();
    }
  });
})();

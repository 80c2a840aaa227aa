// Clinic tablet: after a few idle minutes the questionnaire closes itself and the tablet shows a screen that
// names nobody. The server ends the session on its own clock as well; this only makes the screen follow.
(function () {
  var body = document.body;
  var seconds = parseInt(body.getAttribute("data-tablet-idle"), 10);
  var end = body.getAttribute("data-tablet-end");
  if (!seconds || !end) { return; }
  var timer = null;
  function restart() {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(function () { window.location.replace(end); }, seconds * 1000);
  }
  ["pointerdown", "keydown", "input", "scroll", "touchstart"].forEach(function (name) {
    window.addEventListener(name, restart, { passive: true });
  });
  restart();
}());

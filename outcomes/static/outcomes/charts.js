/* Draws the registry's Plotly charts. No inline script anywhere (strict Content-Security-Policy): each figure
   is embedded as JSON in <script type="application/json" id="fig-…"> and its plot element names it in
   data-figure. The researcher's cohort page instead fetches its figures with the API key held in
   sessionStorage. */
(function () {
  "use strict";
  var CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["sendDataToCloud"] };
  var KEY_NAME = "registry.researchKey";

  function draw(el, figure) {
    var config = Object.assign({}, CONFIG, figure.config || {});
    return window.Plotly.newPlot(el, figure.data, figure.layout, config).then(function () {
      el.setAttribute("data-rendered", "true");
    });
  }

  function drawEmbedded(root) {
    root.querySelectorAll("[data-figure]").forEach(function (el) {
      var source = document.getElementById(el.getAttribute("data-figure"));
      if (source) {
        draw(el, JSON.parse(source.textContent));
      }
    });
  }

  function researcherPage() {
    var container = document.getElementById("cohort-charts");
    var form = document.getElementById("cohort-key-form");
    if (!container || !form) {
      return;
    }
    var input = document.getElementById("cohort-key");
    var status = document.getElementById("cohort-status");
    // The page's own language: its messages are rendered by the template into data attributes (English if absent).
    function say(name, fallback) { return status.getAttribute("data-" + name) || fallback; }

    function load() {
      var key = window.sessionStorage.getItem(KEY_NAME);
      container.textContent = "";
      if (!key) {
        status.textContent = say("no-key", "Enter your research API key to see the charts.");
        return;
      }
      status.textContent = say("loading", "Loading…");
      fetch(container.getAttribute("data-source") + window.location.search, {
        headers: { Authorization: "Token " + key, Accept: "application/json" },
        credentials: "omit",
        cache: "no-store"
      })
        .then(function (response) {
          if (!response.ok) {
            throw new Error(response.status === 401 || response.status === 403
              ? say("refused", "The key was not accepted (revoked, expired or mistyped).")
              : say("failed", "The charts could not be loaded (HTTP {status}).").replace("{status}", response.status));
          }
          return response.json();
        })
        .then(function (body) {
          // The HTML fragments are rendered (and escaped) by the server's templates.
          container.innerHTML = body.charts.map(function (c) { return c.html; }).join("");
          body.charts.forEach(function (c) {
            draw(document.getElementById("plot-" + c.id), c.figure);
          });
          status.textContent = "";
        })
        .catch(function (error) {
          status.textContent = error.message;
        });
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (input.value.trim()) {
        window.sessionStorage.setItem(KEY_NAME, input.value.trim());
        input.value = "";
      }
      load();
    });
    document.getElementById("cohort-forget").addEventListener("click", function () {
      window.sessionStorage.removeItem(KEY_NAME);
      load();
    });
    load();
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!window.Plotly) {
      return;
    }
    drawEmbedded(document);
    researcherPage();
  });
})();

// despacho console: the only script (CSP script-src 'self'); everything works without it.
// Buttons with data-confirm ask first (discarding a dead letter, saving a rule).
document.addEventListener("submit", function (event) {
  var button = event.submitter;
  var question = (button && button.getAttribute("data-confirm")) || event.target.getAttribute("data-confirm");
  if (question && !window.confirm(question)) { event.preventDefault(); }
});

// Live template preview: while an admin types, the edited parts are posted (with the form's CSRF
// token) to the preview endpoint and the rendered text and SMS segments are shown. Text only.
(function () {
  var form = document.getElementById("template-form");
  if (!form) { return; }
  var url = form.getAttribute("data-preview");
  var timer = null;
  function show(result) {
    var error = document.getElementById("preview-error");
    error.textContent = result.error || "";
    error.hidden = !result.error;
    Object.keys(result.rendered || {}).forEach(function (part) {
      var target = document.getElementById("preview-" + part);
      if (target) { target.textContent = result.rendered[part]; }
    });
    var segments = document.getElementById("preview-segments");
    if (segments && result.segments !== null) {
      segments.querySelector('[data-field="segments"]').textContent = result.segments;
      segments.querySelector('[data-field="encoding"]').textContent = result.encoding;
      segments.querySelector('[data-field="length"]').textContent = result.length;
    }
  }
  function refresh() {
    fetch(url, { method: "POST", body: new FormData(form), credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (result) { if (result) { show(result); } })
      .catch(function () {});
  }
  form.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(refresh, 400);
  });
}());

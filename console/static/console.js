// despacho console: the only script (CSP script-src 'self'); everything works without it.
// Buttons with data-confirm ask first (discarding a dead letter, saving a rule).
document.addEventListener("submit", function (event) {
  var button = event.submitter;
  var question = (button && button.getAttribute("data-confirm")) || event.target.getAttribute("data-confirm");
  if (question && !window.confirm(question)) { event.preventDefault(); }
});

// A print button for printable pages (the urging notice): shown only where script runs,
// since the page prints without it (Ctrl+P). No inline script: the CSP forbids it.
document.querySelectorAll("[data-print]").forEach(function (button) {
  button.hidden = false;
  button.addEventListener("click", function () { window.print(); });
});

// Fireline's own script. Every form works without it; it adds the modal (htmx loads a form
// into <dialog>, which traps focus and closes on Escape), copy buttons, and field hints.
(function () {
  "use strict";
  const modal = () => document.getElementById("modal");
  let opener = null;

  document.addEventListener("htmx:beforeRequest", (event) => {
    const target = event.detail.target;
    if (target && target.id === "modal-body" && !modal().open) opener = document.activeElement;
  });
  document.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target.id !== "modal-body") return;
    const dialog = modal();
    if (!dialog.open) dialog.showModal();
    // The first field in error, else the first field.
    const first = dialog.querySelector("[aria-invalid=true]") ||
      dialog.querySelector("input:not([type=hidden]), select, textarea, button");
    if (first) first.focus();
    enhance(dialog);
  });
  document.addEventListener("close", (event) => {
    if (event.target.id !== "modal") return;
    document.getElementById("modal-body").replaceChildren();
    if (opener) opener.focus();
  }, true);
  document.addEventListener("click", (event) => {
    const closer = event.target.closest("[data-close-modal]");
    if (closer && modal().open) { event.preventDefault(); modal().close(); }
    const copy = event.target.closest("[data-copy]");
    if (copy) {
      const source = document.getElementById(copy.dataset.copy);
      navigator.clipboard.writeText(source.textContent.trim()).then(() => {
        copy.textContent = "Copied";
        setTimeout(() => { copy.textContent = "Copy"; }, 1500);
      });
    }
  });

  function enhance(root) {
    // "Who can edit or select the connection": the teams list only for the second choice.
    root.querySelectorAll("[data-teams-for]").forEach((teams) => {
      const radios = root.querySelectorAll(`input[name="${teams.dataset.teamsFor}"]`);
      const sync = () => {
        const custom = root.querySelector(`input[name="${teams.dataset.teamsFor}"]:checked`);
        teams.hidden = !custom || custom.value !== "teams";
      };
      radios.forEach((radio) => radio.addEventListener("change", sync));
      sync();
    });
    // A hint that depends on another field (Dynatrace: the URL's form by environment type).
    root.querySelectorAll("[data-hint-source]").forEach((hint) => {
      const source = root.querySelector(`[name="${hint.dataset.hintSource}"]`);
      const hints = JSON.parse(hint.dataset.hints);
      const sync = () => { if (hints[source.value]) hint.textContent = hints[source.value]; };
      source.addEventListener("change", sync);
      sync();
    });
  }
  document.addEventListener("DOMContentLoaded", () => enhance(document));
})();

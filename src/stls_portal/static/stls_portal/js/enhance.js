// Progressive enhancement only: every page works without it. GOV.UK Frontend's components
// (the file upload becomes a drop zone a file can be dragged onto; the error summary takes
// focus) start here, from a file of this service, since the CSP allows no inline script.
import { initAll } from "../build/govuk-frontend.min.js";

document.body.classList.add("js-enabled");
if ("noModule" in HTMLScriptElement.prototype) {
  document.body.classList.add("govuk-frontend-supported");
  initAll();
}

// A file over the limit is refused here before it is sent (the server refuses it too, unread).
for (const form of document.querySelectorAll("form[data-max-bytes]")) {
  form.addEventListener("submit", (event) => {
    const input = form.querySelector("input[type=file]");
    const limit = Number(form.dataset.maxBytes);
    const file = input && input.files && input.files[0];
    if (!file || file.size <= limit) {
      return;
    }
    event.preventDefault();
    const group = input.closest(".govuk-form-group");
    group.classList.add("govuk-form-group--error");
    let message = group.querySelector(".govuk-error-message");
    if (!message) {
      message = document.createElement("p");
      message.className = "govuk-error-message";
      message.id = "file-error";
      group.insertBefore(message, group.querySelector(".stls-drop-zone, input[type=file]"));
      input.setAttribute("aria-describedby", `file-hint file-error`);
    }
    message.textContent = `Error: the file is over ${Math.floor(limit / 1048576)} MB. A monthly return is far smaller: remove other sheets, pictures and unused rows.`;
    input.focus();
  });
}

// Drag and drop: a file dropped anywhere on the zone goes into the ordinary file input, which
// stays the control (keyboard and screen reader users choose the file as without script).
for (const zone of document.querySelectorAll("[data-stls-drop-zone]")) {
  const input = zone.querySelector("input[type=file]");
  zone.classList.add("stls-drop-zone--enhanced");
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("stls-drop-zone--active");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("stls-drop-zone--active"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("stls-drop-zone--active");
    if (event.dataTransfer && event.dataTransfer.files.length) {
      input.files = event.dataTransfer.files;
      input.dispatchEvent(new Event("change", { bubbles: true }));
    }
  });
}

// Progressive enhancement only: every page works without it. GOV.UK Frontend's components
// (the file upload becomes a drop zone a file can be dragged onto; the error summary takes
// focus) start here, from a file of this service, since the CSP allows no inline script.
import { initAll } from "../build/govuk-frontend.min.js";

document.body.classList.add("js-enabled");
if ("noModule" in HTMLScriptElement.prototype) {
  document.body.classList.add("govuk-frontend-supported");
  initAll();
}

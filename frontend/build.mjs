// Builds the returns service's static files into src/stls_portal/static/stls_portal/build/:
// the compiled stylesheet (system font, no GDS Transport font face), GOV.UK Frontend's
// script, and axe-core for the accessibility tests. Run by `make portal-assets`.
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as sass from "sass";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "src", "stls_portal", "static", "stls_portal", "build");
mkdirSync(out, { recursive: true });

const result = sass.compile(join(here, "scss", "portal.scss"), {
  style: "compressed",
  importers: [new sass.NodePackageImporter()],
  quietDeps: true,
  silenceDeprecations: ["import"],
});
if (/GDS Transport|\.woff/.test(result.css)) {
  throw new Error("the compiled stylesheet still names the GDS Transport font");
}
writeFileSync(join(out, "portal.css"), result.css);

const govuk = join(here, "node_modules", "govuk-frontend", "dist", "govuk");
copyFileSync(join(govuk, "govuk-frontend.min.js"), join(out, "govuk-frontend.min.js"));
copyFileSync(join(here, "node_modules", "axe-core", "axe.min.js"), join(out, "axe.min.js"));
console.log(`built ${out}`);

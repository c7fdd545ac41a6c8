// Validates Kubernetes objects against the API schemas of a current release,
// without a cluster. Two checks per object:
//  1. kubernetes-models' JSON-schema validators (types, required fields,
//     enums, formats); PodMonitor from @kubernetes-models/prometheus-operator.
//  2. Unknown fields: those validators accept any extra key (so a typo such
//     as `readOnlyRootFilesytem` would pass), so every object is also
//     type-checked by the TypeScript compiler as an object literal of the
//     models' interface, where an excess property is an error at any depth.
// Input: a multi-document YAML stream on stdin (`kubectl kustomize` output).
// Prints "ok <apiVersion> <kind> <name>" per object; exits 1 if any object
// fails or has no schema here.
"use strict";
const fs = require("fs");
const os = require("os");
const path = require("path");
const yaml = require("js-yaml");
const ts = require("typescript");

// apiVersion → module path of its models.
const groups = {
  v1: "kubernetes-models/v1",
  "apps/v1": "kubernetes-models/apps/v1",
  "rbac.authorization.k8s.io/v1": "kubernetes-models/rbac.authorization.k8s.io/v1",
  "monitoring.coreos.com/v1": "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1",
};

const docs = yaml.loadAll(fs.readFileSync(0, "utf8")).filter((d) => d);
if (docs.length === 0) {
  console.error("no objects on stdin");
  process.exit(1);
}
let failed = false;
const tsLines = [];
docs.forEach((doc, i) => {
  const what = `${doc.apiVersion} ${doc.kind} ${doc.metadata && doc.metadata.name}`;
  const mod = groups[doc.apiVersion];
  const Model = mod && require(mod)[doc.kind];
  if (!Model) {
    console.error(`${what}: no schema for this apiVersion/kind`);
    failed = true;
    return;
  }
  try {
    new Model(doc).validate();
  } catch (e) {
    console.error(`${what}: ${e.message}`);
    failed = true;
    return;
  }
  tsLines.push(`import type { I${doc.kind} as T${i} } from "${mod}";`);
  tsLines.push(`// ${what}\nexport const o${i}: T${i} = ${JSON.stringify(doc, null, 2)};`);
});

// The generated file sits here so that its imports resolve to node_modules.
const file = path.join(__dirname, `.check-${process.pid}.ts`);
fs.writeFileSync(file, tsLines.join("\n") + "\n");
try {
  const program = ts.createProgram([file], {
    noEmit: true,
    strict: true,
    skipLibCheck: true,
    types: [],
    moduleResolution: ts.ModuleResolutionKind.Node10,
  });
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const msg = ts.flattenDiagnosticMessageText(d.messageText, "\n");
    let where = "";
    if (d.file) {
      const text = d.file.text.slice(0, d.start);
      const obj = text.lastIndexOf("\n// ");
      where = text.slice(obj + 4, text.indexOf("\n", obj + 4)) + ": ";
    }
    console.error(`${where}${msg}`);
    failed = true;
  }
} finally {
  fs.unlinkSync(file);
}
if (failed) process.exit(1);
docs.forEach((doc) => console.log(`ok ${doc.apiVersion} ${doc.kind} ${doc.metadata.name}`));

#!/usr/bin/env node
// Validates every object of rendered Kubernetes YAML (files given, or stdin) against the
// Kubernetes OpenAPI schema shipped in the npm package kubernetes-models: unknown kinds, missing
// required fields, wrong types and bad formats are errors (unknown fields are not: the schema,
// like the API server's default, allows them). Exits 1 on any error.
"use strict";
const fs = require("fs");
const yaml = require("js-yaml");

function modelFor(apiVersion, kind) {
  const path = `kubernetes-models/${apiVersion}/${kind}`;  // the core group "v1" lives at the root
  try {
    return require(path)[kind];
  } catch (e) {
    return null;
  }
}

function main() {
  const inputs = process.argv.length > 2 ? process.argv.slice(2) : ["/dev/stdin"];
  let errors = 0;
  let objects = 0;
  for (const input of inputs) {
    for (const doc of yaml.loadAll(fs.readFileSync(input, "utf8"))) {
      if (doc === null || doc === undefined) continue;
      objects += 1;
      const name = `${input}: ${doc.kind}/${doc.metadata && doc.metadata.name}`;
      const Model = doc.apiVersion && doc.kind ? modelFor(doc.apiVersion, doc.kind) : null;
      if (!Model) {
        console.error(`${name}: unknown apiVersion/kind ${doc.apiVersion} ${doc.kind}`);
        errors += 1;
        continue;
      }
      try {
        new Model(doc).validate();
      } catch (e) {
        console.error(`${name}: ${e.message}`);
        errors += 1;
      }
    }
  }
  if (objects === 0) {
    console.error("no Kubernetes objects found");
    process.exit(1);
  }
  console.log(`${objects} objects checked, ${errors} invalid`);
  process.exit(errors === 0 ? 0 : 1);
}

main();

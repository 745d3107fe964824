// Offline validators used by tests/deploy/*.py and deploy/tools/check.sh.
//
//   node deploy/tools/validate.mjs MODE < payload.json > answer.json
//
// MODE k8s:      payload = [object, ...]; validates each Kubernetes object against its
//                OpenAPI schema (kubernetes-models, @kubernetes-models/prometheus-operator).
// MODE ajv:      payload = {schema, data}; JSON-schema validation (draft-07) with ajv.
// MODE hcl2json: payload = {files: {name: text}}; parses HCL with @cdktf/hcl2json.
// MODE hclfmt:   payload = {files: {name: text}}; canonical formatting with @cdktf/hcl-tools.
//
// Answers are JSON on stdout; exit 0 when everything is valid, 1 when something is not.
// Modules are resolved from tools/node_modules (installed by scripts/install-deps.sh).
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import path from "node:path";
import fs from "node:fs";

const here = path.dirname(fileURLToPath(import.meta.url));
const nm = path.resolve(here, "..", "..", "tools", "node_modules");
const require = createRequire(path.join(nm, "noop.js"));

async function load(spec) {
  // ESM-only packages cannot be require()d; import them by file URL.
  // kubernetes-models is CommonJS: require() it.
  if (spec.startsWith("@kubernetes-models/prometheus-operator/"))
    return import(pathToFileURL(path.join(nm, spec + ".js")).href);
  return require(spec);
}

function modelPath(apiVersion, kind) {
  if (!apiVersion || !kind) return null;
  if (apiVersion.startsWith("monitoring.coreos.com/"))
    return `@kubernetes-models/prometheus-operator/${apiVersion}/${kind}`;
  return `kubernetes-models/${apiVersion}/${kind}`;
}

async function k8s(objects) {
  const results = [];
  for (const obj of objects) {
    const name = `${obj.kind}/${obj.metadata && obj.metadata.name}`;
    const spec = modelPath(obj.apiVersion, obj.kind);
    let mod;
    try {
      mod = spec && (await load(spec));
    } catch (e) {
      mod = null;
    }
    const Model = mod && mod[obj.kind];
    if (!Model) {
      results.push({ name, ok: false, error: `no schema for apiVersion ${obj.apiVersion} kind ${obj.kind}` });
      continue;
    }
    try {
      new Model(obj).validate();
      results.push({ name, ok: true });
    } catch (e) {
      results.push({ name, ok: false, error: String(e.message || e) });
    }
  }
  return { ok: results.every((r) => r.ok), results };
}

async function ajv({ schema, data }) {
  const Ajv = require("ajv").default;
  const addFormats = require("ajv-formats").default;
  const v = new Ajv({ allErrors: true, strict: false });
  addFormats(v);
  const validate = v.compile(schema);
  const ok = validate(data);
  const errors = (validate.errors || []).map((e) => `${e.instancePath || "/"} ${e.message} ${JSON.stringify(e.params)}`);
  return { ok, errors: errors.slice(0, 50) };
}

async function hcl2json({ files }) {
  const { parse } = require("@cdktf/hcl2json");
  const parsed = {};
  const errors = {};
  for (const [name, text] of Object.entries(files)) {
    try {
      parsed[name] = await parse(name, text);
    } catch (e) {
      errors[name] = String(e.message || e);
    }
  }
  return { ok: Object.keys(errors).length === 0, parsed, errors };
}

async function hclfmt({ files }) {
  const { format } = require("@cdktf/hcl-tools");
  const formatted = {};
  const errors = {};
  for (const [name, text] of Object.entries(files)) {
    try {
      formatted[name] = await format(text);
    } catch (e) {
      errors[name] = String(e.message || e);
    }
  }
  const unformatted = Object.keys(formatted).filter((n) => formatted[n] !== files[n]);
  return { ok: Object.keys(errors).length === 0 && unformatted.length === 0, formatted, unformatted, errors };
}

const modes = { k8s, ajv, hcl2json, hclfmt };
const mode = process.argv[2];
if (!modes[mode]) {
  console.error(`usage: validate.mjs (${Object.keys(modes).join("|")}) < payload.json`);
  process.exit(2);
}
const payload = JSON.parse(fs.readFileSync(0, "utf8"));
const answer = await modes[mode](payload);
process.stdout.write(JSON.stringify(answer));
process.exit(answer.ok ? 0 : 1);

#!/usr/bin/env node
// compare.mjs reports max |Δprob| between two directories of golden files,
// e.g. the cpu and the wasm backend runs of golden.mjs, over the images both
// contain. This is the reference's own noise floor.
//
//   node conformance/compare.mjs DIR_A DIR_B [--json]
//
// Human summary on stderr; with --json a machine-readable summary on stdout.
// Models present on only one side are skipped with a note. Exit status 1 if
// no model could be compared.

import { readFileSync, existsSync } from "node:fs";
import { join } from "node:path";

const args = process.argv.slice(2);
const asJSON = args.includes("--json");
const dirs = args.filter((a) => a !== "--json");
if (dirs.length !== 2 || args.includes("-h") || args.includes("--help")) {
  process.stderr.write("usage: node conformance/compare.mjs DIR_A DIR_B [--json]\n");
  process.exit(dirs.length === 2 ? 0 : 2);
}

const MODELS = ["mobilenet_v2", "mobilenet_v2_mid", "inception_v3"];
const summary = {};
for (const key of MODELS) {
  const paths = dirs.map((d) => join(d, `${key}.json`));
  if (!paths.every(existsSync)) {
    process.stderr.write(`compare: ${key}: skipped, missing ${paths.filter((p) => !existsSync(p)).join(", ")}\n`);
    continue;
  }
  const [a, b] = paths.map((p) => JSON.parse(readFileSync(p, "utf8")));
  const names = Object.keys(a.probabilities).filter((n) => n in b.probabilities);
  if (names.length === 0) {
    process.stderr.write(`compare: ${key}: skipped, no common images\n`);
    continue;
  }
  let max = 0, worst = "", sum = 0, argmaxFlips = 0;
  const argmax = (p) => p.indexOf(Math.max(...p));
  for (const n of names) {
    const pa = a.probabilities[n], pb = b.probabilities[n];
    const d = Math.max(...pa.map((v, i) => Math.abs(v - pb[i])));
    sum += d;
    if (d > max) [max, worst] = [d, n];
    if (argmax(pa) !== argmax(pb)) argmaxFlips++;
  }
  summary[key] = {
    backends: [a.backend, b.backend],
    images: names.length,
    max_abs_diff: max,
    mean_max_abs_diff: sum / names.length,
    worst_image: worst,
    top1_disagreements: argmaxFlips,
  };
  process.stderr.write(
    `compare: ${a.model} ${a.backend} vs ${b.backend}: ${names.length} images, max |dprob| ${max.toExponential(3)} (${worst}), mean ${(sum / names.length).toExponential(3)}, top-1 disagreements ${argmaxFlips}\n`,
  );
}
if (asJSON) process.stdout.write(JSON.stringify(summary, null, 2) + "\n");
process.exit(Object.keys(summary).length > 0 ? 0 : 1);

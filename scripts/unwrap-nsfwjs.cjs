// unwrap-nsfwjs.cjs turns the JS-wrapped models bundled in the nsfwjs npm
// package into the standard TF.js layout: model.json + binary shards.
//
//   node scripts/unwrap-nsfwjs.cjs PACKAGE_DIR OUT_DIR
//
// PACKAGE_DIR is the unpacked npm tarball ("package/"). Each model folder
// holds model.min.js (a UMD module exporting {modelTopology, weightsManifest,
// ...}) and group1-shardXofN.min.js (each exporting one base64 string).
// The output is written to OUT_DIR/<name>.tmp and renamed into place only
// when complete, so an interrupted run never leaves a half model behind.
'use strict';
const fs = require('fs');
const path = require('path');

const MODELS = ['mobilenet_v2', 'mobilenet_v2_mid', 'inception_v3'];

function die(msg) {
  process.stderr.write(`unwrap-nsfwjs: ${msg}\n`);
  process.exit(1);
}

if (process.argv.length !== 4) die('usage: node scripts/unwrap-nsfwjs.cjs PACKAGE_DIR OUT_DIR');
const pkgDir = path.resolve(process.argv[2]);
const outDir = path.resolve(process.argv[3]);

for (const name of MODELS) {
  const src = path.join(pkgDir, 'dist', 'models', name);
  const modelFile = path.join(src, 'model.min.js');
  if (!fs.existsSync(modelFile)) die(`${modelFile}: missing`);
  const mod = require(modelFile);
  const model = mod && mod.default ? mod.default : mod;
  if (!model || !model.modelTopology || !Array.isArray(model.weightsManifest)) {
    die(`${modelFile}: does not export {modelTopology, weightsManifest}`);
  }

  const tmp = path.join(outDir, name + '.tmp');
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });

  const manifest = [];
  for (const group of model.weightsManifest) {
    const paths = [];
    for (const p of group.paths) {
      const shardFile = path.join(src, p + '.min.js');
      if (!fs.existsSync(shardFile)) die(`${shardFile}: missing (listed in ${modelFile})`);
      const shard = require(shardFile);
      const b64 = typeof shard === 'string' ? shard : shard && shard.default;
      if (typeof b64 !== 'string') die(`${shardFile}: does not export a base64 string`);
      const bytes = Buffer.from(b64, 'base64');
      if (bytes.length === 0) die(`${shardFile}: empty shard`);
      const bin = p + '.bin';
      fs.writeFileSync(path.join(tmp, bin), bytes);
      paths.push(bin);
    }
    manifest.push({ paths, weights: group.weights });
  }

  const json = {
    format: model.format || (model.modelTopology.node ? 'graph-model' : 'layers-model'),
    generatedBy: model.generatedBy,
    convertedBy: model.convertedBy,
    modelTopology: model.modelTopology,
    weightsManifest: manifest,
  };
  if (model.userDefinedMetadata) json.userDefinedMetadata = model.userDefinedMetadata;
  fs.writeFileSync(path.join(tmp, 'model.json'), JSON.stringify(json));

  const dst = path.join(outDir, name);
  fs.rmSync(dst, { recursive: true, force: true });
  fs.renameSync(tmp, dst);
  process.stderr.write(`unwrap-nsfwjs: ${name}: ${manifest.reduce((n, g) => n + g.paths.length, 0)} shard(s) -> ${dst}\n`);
}

// node-stub.js stands in for the Node built-ins (and the `buffer` package)
// that tfjs-backend-wasm and nsfwjs import. In a browser they are not called:
// tfjs-backend-wasm reads files only under Node, and nsfwjs's Buffer decodes
// only its bundled base64 models, which the bench does not use.
export default {};
export const Buffer = undefined;

// Load every .proto under protos/ as a Node client would and print the
// fully-qualified service and method names, one "Service/Method" per line.
const path = require("path");
const fs = require("fs");
const protoLoader = require("@grpc/proto-loader");
const grpc = require("@grpc/grpc-js");

const root = path.resolve(__dirname, "../../protos");
const files = [];
(function walk(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(full);
    else if (entry.name.endsWith(".proto")) files.push(path.relative(root, full));
  }
})(root);

const definition = protoLoader.loadSync(files, { includeDirs: [root], keepCase: true });
const loaded = grpc.loadPackageDefinition(definition);
for (const [name, value] of Object.entries(definition)) {
  if (value && typeof value === "object" && !value.format) {
    for (const method of Object.values(value)) if (method.path) console.log(method.path.slice(1));
  }
}
if (!loaded.leadengine) process.exit(1);

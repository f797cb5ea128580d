// Preloaded into the jsii runtime (NODE_OPTIONS=--require, set by modules/aws.py).
// @cdktf/provider-aws's lib/index.js require()s all ~2,100 resource modules (~250 MB of JS) when
// the assembly loads. This rewrites each `exports.x = require("./x");` of that one file into a lazy
// getter, so node compiles only the modules a stack touches. Every other file loads unchanged.
"use strict";
const Module = require("module");
const fs = require("fs");

// node_modules/@cdktf/provider-aws/lib/index.js, or jsii's package cache:
// package-cache/@cdktf/provider-aws/<version>/<hash>/lib/index.js
const PROVIDER_INDEX = /[\\/]@cdktf[\\/]provider-aws[\\/](?:[^\\/]+[\\/]){0,2}lib[\\/]index\.js$/;
const EAGER_EXPORT = /^exports\.(\w+) = require\("(\.\/[\w-]+)"\);$/gm;
const compileJs = Module._extensions[".js"];

Module._extensions[".js"] = function (module, filename) {
  if (!PROVIDER_INDEX.test(filename)) {
    return compileJs(module, filename);
  }
  const source = fs.readFileSync(filename, "utf8").replace(
    EAGER_EXPORT,
    'Object.defineProperty(exports, "$1", { enumerable: true, configurable: true, get: () => require("$2") });',
  );
  return module._compile(source, filename);
};

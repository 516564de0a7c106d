// require() of functions-keyvault's entries from CommonJS (cjs/index.cjs, handlers.cjs, testing.cjs). The package is
// ESM only: Node ^20.19 and >=22.12 load it synchronously with require() (the same module instance import() returns,
// so no dual-package state); older Node cannot, and gets this sentence instead of a bare ERR_REQUIRE_ESM.
module.exports = function load(requireEntry) {
  try {
    return requireEntry();
  } catch (error) {
    if (error && error.code === 'ERR_REQUIRE_ESM') {
      throw new Error(
        'functions-keyvault is an ES module: require() of it needs Node ^20.19.0 or >=22.12.0, this is ' +
          process.version +
          '. Use import(), or set the Function App to a newer Node.',
      );
    }
    throw error;
  }
};

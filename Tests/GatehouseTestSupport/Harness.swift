// The harness the benchmarks share with the tests (the service launcher, the HTTP client, the
// corpus): every test that imports the test support has it too.
@_exported import GatehouseHarness
